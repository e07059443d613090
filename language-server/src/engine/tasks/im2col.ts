/**
 * im2col for Conv layers: turns NCHW activations into rows of length (C/groups)·kh·kw, one row per
 * output position (and batch item), so a Conv with weight O×(I·kh·kw) is a MatMul and its GPTQ
 * Hessian is accumulated exactly like a linear layer's: `hessian.add(rows, rowCount)`.
 * Column order matches ONNX weight flattening W[o, c, i, j] → column (c·kh + i)·kw + j.
 * Rows are produced in chunks to bound memory; padding positions read as 0.
 */

/** Conv geometry (ONNX attribute names, 2-D). */
export interface ConvGeometry {
  kernel: [number, number];
  stride?: [number, number];
  /** [top, left, bottom, right] like ONNX `pads`. */
  pads?: [number, number, number, number];
  dilation?: [number, number];
  group?: number;
}

/** Output spatial size of a Conv. */
export function convOutputSize(h: number, w: number, g: ConvGeometry): [number, number] {
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.stride ?? [1, 1];
  const [pt, pl, pb, pr] = g.pads ?? [0, 0, 0, 0];
  const [dh, dw] = g.dilation ?? [1, 1];
  const oh = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  if (oh <= 0 || ow <= 0) throw new Error(`im2col: kernel ${kh}x${kw} does not fit input ${h}x${w}`);
  return [oh, ow];
}

/**
 * Yields chunks of im2col rows for one group: each chunk is `rows × cols` row-major with
 * cols = (C/groups)·kh·kw, at most `chunkRows` rows. `x` is NCHW [n, c, h, w].
 */
export function* im2colChunks(
  x: Float32Array, dims: readonly number[], geometry: ConvGeometry, groupIndex = 0, chunkRows = 4096,
): Generator<{ rows: number; cols: number; data: Float32Array }> {
  if (dims.length !== 4) throw new Error(`im2col: expected NCHW input, got [${dims.join(', ')}]`);
  const [n, c, h, w] = dims;
  const groups = geometry.group ?? 1;
  if (c % groups !== 0) throw new Error(`im2col: ${c} channels are not divisible by group=${groups}`);
  if (groupIndex < 0 || groupIndex >= groups) throw new Error(`im2col: group index ${groupIndex} out of range`);
  const cg = c / groups;
  const [kh, kw] = geometry.kernel;
  const [sh, sw] = geometry.stride ?? [1, 1];
  const [pt, pl] = geometry.pads ?? [0, 0, 0, 0];
  const [dh, dw] = geometry.dilation ?? [1, 1];
  const [oh, ow] = convOutputSize(h, w, geometry);
  const cols = cg * kh * kw;
  const total = n * oh * ow;
  const c0 = groupIndex * cg;
  for (let start = 0; start < total; start += chunkRows) {
    const rows = Math.min(chunkRows, total - start);
    const data = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const pos = start + r;
      const b = Math.floor(pos / (oh * ow));
      const rem = pos % (oh * ow);
      const oy = Math.floor(rem / ow);
      const ox = rem % ow;
      let col = r * cols;
      for (let ci = 0; ci < cg; ci++) {
        const plane = (b * c + c0 + ci) * h * w;
        for (let i = 0; i < kh; i++) {
          const y = oy * sh - pt + i * dh;
          for (let j = 0; j < kw; j++, col++) {
            const xx = ox * sw - pl + j * dw;
            data[col] = y >= 0 && y < h && xx >= 0 && xx < w ? x[plane + y * w + xx] : 0;
          }
        }
      }
    }
    yield { rows, cols, data };
  }
}
