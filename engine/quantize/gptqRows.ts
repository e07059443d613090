/**
 * GPTQ on row slices (issue 11: the LM head's peak). GPTQ's rows are independent given H: every row
 * runs the same column sweep against the same inverse-Hessian factor. The native solver keeps a float64
 * working copy of W (8 bytes a weight), so a 32000×2048 head needs 524 MB for that copy alone. Solving
 * row slices of at most {@link GPTQ_SLICE_BYTES} of working copy each, with the same H, gives the same
 * codes, scales and zeros bit for bit (tested) at the price of one more factorization of H per slice —
 * which is why only layers whose working copy would pass {@link GPTQ_SLICE_ABOVE_BYTES} are sliced (a
 * tall layer: rows ≫ cols, where the factorization is cheap next to the solve).
 */
import * as native from '../../native/ts/index';
import type { GptqOptions, GptqResult, JobControl } from '../../native/ts/index';

/** Layers whose float64 working copy is larger than this are solved in row slices. */
export const GPTQ_SLICE_ABOVE_BYTES = 256 * 2 ** 20;
/** The largest working copy of one slice. */
export const GPTQ_SLICE_BYTES = 128 * 2 ** 20;
/** Slices start on multiples of this many rows (keeps the solver's row tiling the same as one call). */
const ROW_ALIGN = 256;

/** Row ranges [r0, r1) for a rows×cols weight: one range unless its working copy passes `above` bytes. */
export function gptqRowSlices(rows: number, cols: number, above = GPTQ_SLICE_ABOVE_BYTES, slice = GPTQ_SLICE_BYTES): [number, number][] {
  if (rows * cols * 8 <= above) return [[0, rows]];
  const per = Math.max(ROW_ALIGN, Math.floor(slice / (8 * cols) / ROW_ALIGN) * ROW_ALIGN);
  const out: [number, number][] = [];
  for (let r = 0; r < rows; r += per) out.push([r, Math.min(rows, r + per)]);
  return out;
}

/**
 * {@link native.gptq} over `slices` (default {@link gptqRowSlices}); the results are joined row-wise.
 * `loss` is the sum of the slices' losses; damping is the same in every slice (same H), checked.
 */
export async function gptqSliced(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | native.Hessian,
  opts: GptqOptions,
  ctl: JobControl = {},
  slices = gptqRowSlices(rows, cols),
): Promise<GptqResult> {
  if (slices.length === 1) return native.gptq(w, rows, cols, H, opts, ctl);
  let out: GptqResult | undefined;
  let loss = 0;
  for (const [r0, r1] of slices) {
    const part = await native.gptq(w.subarray(r0 * cols, r1 * cols), r1 - r0, cols, H, opts, {
      ...ctl,
      onProgress: ctl.onProgress && ((done, total) => ctl.onProgress!(r0 * total + (r1 - r0) * done, rows * total)),
    });
    const ng = part.scales.length / (r1 - r0);
    if (!out) {
      out = {
        ...part,
        rows,
        codes: new Uint8Array(rows * cols),
        dequant: new Float32Array(rows * cols),
        scales: new Float32Array(rows * ng),
        zeros: new Uint8Array(rows * ng),
      };
    } else if (part.damp !== out.damp || part.dampRetries !== out.dampRetries) {
      throw new Error(`gptq: rows ${r0}–${r1 - 1} were damped differently (${part.damp}) from the first rows (${out.damp})`);
    }
    out.codes.set(part.codes, r0 * cols);
    out.dequant.set(part.dequant, r0 * cols);
    out.scales.set(part.scales, r0 * ng);
    out.zeros.set(part.zeros, r0 * ng);
    loss += part.loss;
  }
  out!.loss = loss;
  return out!;
}
