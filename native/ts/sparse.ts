/**
 * Pruning kernels (docs/algorithms.md §8): SparseGPT (Frantar & Alistarh 2023) runs inside the GPTQ
 * solve (`sparseGpt`: the mask chosen per block by w²/[H⁻¹]²_jj, one error feedback for pruning and
 * quantization); Wanda (Sun et al. 2024, |W_ij|·‖X_j‖₂ per output row) and magnitude pruning (|W| per
 * layer) choose a one-shot mask and quantize the survivors with RTN (`pruneRtn`). Pruned weights get
 * the zero-point code and dequantize to exactly 0. `keep` is the rows×cols mask, 1 = kept.
 * Inputs are read in place while a kernel runs: do not mutate `w`, `H` or `colScale` until it settles.
 */
import { LowbitKernelError, loadAddon } from './addon';
import { type JobControl, type NativeJobControl, runNativeJob } from './job';
import type { QuantizedWeight } from './quantizedWeight';

/** What to prune: a fraction of the weights, or N of every M consecutive input columns per row. */
export type SparsitySpec = { ratio: number } | { n: number; m: number };

/** The addon's pruning options for a spec. */
export function pruneOptions(s: SparsitySpec, pruneOnly = false): { sparsity: number; pruneN: number; pruneM: number; pruneOnly: boolean } {
  if ('ratio' in s) {
    if (!(s.ratio >= 0 && s.ratio < 1)) throw new LowbitKernelError(`sparsity must be in [0, 1) (got ${s.ratio})`, 'E_ARG');
    return { sparsity: s.ratio, pruneN: 0, pruneM: 0, pruneOnly };
  }
  if (!Number.isInteger(s.n) || !Number.isInteger(s.m) || s.n <= 0 || s.n >= s.m)
    throw new LowbitKernelError(`N:M sparsity needs integers 0 < N < M (got ${s.n}:${s.m})`, 'E_ARG');
  return { sparsity: 0, pruneN: s.n, pruneM: s.m, pruneOnly };
}

/** A pruned (and, unless pruneOnly, quantized) weight with its mask. */
export interface PrunedWeight extends QuantizedWeight {
  keep: Uint8Array;
}

interface SparseAddon {
  pruneRtn(
    w: Float32Array,
    rows: number,
    cols: number,
    colScale: Float64Array | null,
    o: object,
    ctl: NativeJobControl,
  ): Promise<PrunedWeight>;
}

/** One-shot options: the grid, the sparsity, and which set the mask ranks within. */
export interface PruneRtnOptions {
  bits: number;
  groupSize: number;
  symmetric: boolean;
  sparsity: SparsitySpec;
  /** `row`: each output row keeps its own share (Wanda); `layer`: one ranking over the layer (magnitude). N:M is per row. */
  scope: 'row' | 'layer';
  /** Keep the survivors in float (no quantization). */
  pruneOnly?: boolean;
}

/**
 * Wanda (colScale = ‖X_j‖₂) or magnitude (colScale = null) pruning, then RTN of the survivors on a grid
 * computed from the masked weight.
 */
export async function pruneRtn(
  w: Float32Array,
  rows: number,
  cols: number,
  colScale: Float64Array | null,
  opts: PruneRtnOptions,
  ctl?: JobControl,
): Promise<PrunedWeight> {
  if (colScale && colScale.length !== cols)
    throw new LowbitKernelError(`pruneRtn: colScale has ${colScale.length} values, expected ${cols}`, 'E_SHAPE');
  const o = {
    bits: opts.bits,
    groupSize: opts.groupSize,
    symmetric: opts.symmetric,
    scope: opts.scope,
    ...pruneOptions(opts.sparsity, opts.pruneOnly),
  };
  return runNativeJob('pruneRtn', ctl, (c) => loadAddon<SparseAddon>('pruneRtn').pruneRtn(w, rows, cols, colScale, o, c));
}

interface JsqAddon {
  jsqRangeTerm(w: Float32Array, rows: number, cols: number, xbar: Float64Array, T: number, ctl: NativeJobControl): Promise<Float64Array>;
  jsqOutputError(
    wq: Float32Array,
    rows: number,
    cols: number,
    y: Float64Array,
    xq: Float64Array,
    T: number,
    ctl: NativeJobControl,
  ): Promise<number>;
}

/**
 * JSQ's output-range term (Guo et al. 2024; the authors' `generate_ss`): R_ij = max_t(y_ti − x̄_tj·W_ij) −
 * min_t(…) with y = X̄Wᵀ over the T rows of `xbar` (T×cols), float64, rows×cols.
 */
export async function jsqRangeTerm(
  w: Float32Array,
  rows: number,
  cols: number,
  xbar: Float64Array,
  T: number,
  ctl?: JobControl,
): Promise<Float64Array> {
  if (w.length !== rows * cols) throw new LowbitKernelError(`jsqRangeTerm: w has ${w.length} values, expected ${rows}×${cols}`, 'E_SHAPE');
  return runNativeJob('jsqRangeTerm', ctl, (c) => loadAddon<JsqAddon>('jsqRangeTerm').jsqRangeTerm(w, rows, cols, xbar, T, c));
}

/** Σ (y − X̂Ŵᵀ)² for y (T×rows), X̂ (T×cols) and Ŵ (rows×cols): the error JSQ's activation editor scores. */
export async function jsqOutputError(
  wq: Float32Array,
  rows: number,
  cols: number,
  y: Float64Array,
  xq: Float64Array,
  T: number,
  ctl?: JobControl,
): Promise<number> {
  return runNativeJob('jsqOutputError', ctl, (c) => loadAddon<JsqAddon>('jsqOutputError').jsqOutputError(wq, rows, cols, y, xq, T, c));
}
