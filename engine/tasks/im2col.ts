/**
 * im2col for Conv layers: turns NCHW activations into rows of length (C/groups)·kh·kw, one row per
 * output position (and batch item), so a Conv with weight O×(I·kh·kw) is a MatMul and its GPTQ
 * Hessian is accumulated exactly like a linear layer's: `hessian.add(rows, rowCount)`.
 * Column order matches ONNX weight flattening W[o, c, i, j] → column (c·kh + i)·kw + j.
 * Rows are produced in chunks to bound memory; padding positions read as 0.
 * ConvTranspose needs no im2col: its rows are the input's per-pixel channel vectors ({@link addChannelActivation}).
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
  x: Float32Array,
  dims: readonly number[],
  geometry: ConvGeometry,
  groupIndex = 0,
  chunkRows = 4096,
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

/** Anything that accumulates rows (the native Hessian, ChannelStats): `add(rows × cols, rows)`. */
export interface RowAccumulator {
  add(x: Float32Array, rows: number): unknown;
}

/**
 * Streams one Conv input activation (NCHW) into accumulators of size (C/groups)·kh·kw. All groups
 * share the weight's column space, so every group's rows go into the same accumulator (for a
 * depthwise Conv this is the kh·kw patch covariance pooled over channels). Returns the rows added.
 */
export function addConvActivation(
  targets: RowAccumulator[],
  x: Float32Array,
  dims: readonly number[],
  geometry: ConvGeometry,
  chunkRows = 4096,
): number {
  let total = 0;
  for (let g = 0; g < (geometry.group ?? 1); g++) {
    for (const chunk of im2colChunks(x, dims, geometry, g, chunkRows)) {
      for (const t of targets) t.add(chunk.data, chunk.rows);
      total += chunk.rows;
    }
  }
  return total;
}

/**
 * Conv geometry from an ONNX Conv node's attributes (2-D; `auto_pad` NOTSET/VALID, or SAME_* given
 * the input size). `kernelDims` are the weight dims [O, I/g, kh, kw] (used when kernel_shape is absent).
 * @throws Error naming `node` for non-2-D convolutions.
 */
export function convGeometryFromAttributes(
  node: string,
  attributes: { name: string; i?: number; ints?: number[]; s?: Uint8Array | string }[],
  kernelDims: readonly number[],
  input?: { h: number; w: number },
): ConvGeometry {
  const ints = (name: string) => attributes.find((a) => a.name === name)?.ints?.map(Number);
  const kernel = ints('kernel_shape') ?? kernelDims.slice(2).map(Number);
  if (kernel.length !== 2) throw new Error(`Conv ${node}: only 2-D convolutions are calibrated (kernel [${kernel}])`);
  const stride = ints('strides') ?? [1, 1];
  const dilation = ints('dilations') ?? [1, 1];
  let pads = ints('pads') ?? [0, 0, 0, 0];
  const group = Number(attributes.find((a) => a.name === 'group')?.i ?? 1);
  const autoPadRaw = attributes.find((a) => a.name === 'auto_pad')?.s;
  const autoPad =
    autoPadRaw === undefined ? 'NOTSET' : typeof autoPadRaw === 'string' ? autoPadRaw : Buffer.from(autoPadRaw).toString('utf8');
  if (autoPad === 'VALID') pads = [0, 0, 0, 0];
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    if (!input) throw new Error(`Conv ${node}: auto_pad ${autoPad} needs the input size`);
    const p = [input.h, input.w].map((size, k) => {
      const out = Math.ceil(size / stride[k]);
      return Math.max(0, (out - 1) * stride[k] + dilation[k] * (kernel[k] - 1) + 1 - size);
    });
    const lo = p.map((t) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2)));
    pads = [lo[0], lo[1], p[0] - lo[0], p[1] - lo[1]];
  }
  return {
    kernel: [kernel[0], kernel[1]],
    stride: [stride[0], stride[1]],
    pads: [pads[0], pads[1], pads[2], pads[3]],
    dilation: [dilation[0], dilation[1]],
    group,
  };
}

/**
 * Pixel rows for ConvTranspose: each input position's channel vector (one group's C/groups channels)
 * is a row, since ConvTranspose multiplies it by the weight before the overlapping col2im sum — no
 * im2col, and strides/pads/dilations/output_padding do not matter. `x` is [n, c, spatial…] (any
 * spatial rank). Like {@link addConvActivation}, every group's rows go into the same accumulators.
 * Returns the rows added.
 */
export function addChannelActivation(
  targets: RowAccumulator[],
  x: Float32Array,
  dims: readonly number[],
  group = 1,
  chunkRows = 4096,
): number {
  if (dims.length < 3) throw new Error(`channel rows: expected [n, c, spatial…], got [${dims.join(', ')}]`);
  const [n, c] = dims;
  const p = dims.slice(2).reduce((a, b) => a * b, 1);
  if (c % group !== 0) throw new Error(`channel rows: ${c} channels are not divisible by group=${group}`);
  if (x.length !== n * c * p) throw new Error(`channel rows: ${x.length} values for shape [${dims.join(', ')}]`);
  const cg = c / group;
  const total = n * p;
  for (let g = 0; g < group; g++) {
    for (let start = 0; start < total; start += chunkRows) {
      const rows = Math.min(chunkRows, total - start);
      // A fresh buffer per chunk: the native Hessian reads it asynchronously.
      const data = new Float32Array(rows * cg);
      for (let r = 0; r < rows; r++) {
        const pos = start + r;
        const b = Math.floor(pos / p);
        const s = pos - b * p;
        const base = (b * c + g * cg) * p + s;
        for (let ci = 0; ci < cg; ci++) data[r * cg + ci] = x[base + ci * p];
      }
      for (const t of targets) t.add(data, rows);
    }
  }
  return n * p * group;
}
