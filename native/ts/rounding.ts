/**
 * Typed wrapper over the rounding-optimization kernels: HQQ (data-free, half-quadratic zero-point
 * optimization; Badri & Shaji 2023) and layer-wise AdaRound (Nagel et al. 2020). Conventions as in
 * ./index.ts: W is rows × cols = out × in, row-major; codes unpacked in [0, 2^bits − 1];
 * ŵ = scale·(code − zero) with fp32 scales.
 */
import { LowbitKernelError, loadAddon } from './addon';
import { type JobControl, type NativeJobControl, runNativeJob } from './job';
import type { QuantizedWeight } from './quantizedWeight';

/** HQQ options (the authors' defaults: lpNorm 0.7, beta 10, kappa 1.01, 20 iterations). */
export interface HqqOptions {
  bits: number;
  /** -1 = per row. */
  groupSize: number;
  iterations?: number;
  /** p of the lp error norm the shrinkage targets, in (0, 1]. */
  lpNorm?: number;
  beta?: number;
  /** β grows by this factor each iteration (≥ 1). */
  kappa?: number;
  /** Integer zero points (default true; storable by every format) or the authors' real-valued ones. */
  integerZero?: boolean;
}

/** HQQ output. With real-valued zero points, `zeros` is the Float32Array `zeroPoints`. */
export interface HqqResult extends Omit<QuantizedWeight, 'zeros'> {
  zeros: Uint8Array | Float32Array;
  zeroPoints: Float32Array;
  /** mean|W − Ŵ| at the min-max start (index 0) and after each accepted iteration: never increasing. */
  objective: number[];
  /** Accepted iterations (the run stops when the error stops improving). */
  iterations: number;
  initial: number;
  /** mean|W − Ŵ| of the returned weight (after rounding the zero points when they are integers). */
  final: number;
}

/** AdaRound options (BRECQ defaults). */
export interface AdaRoundOptions {
  iterations?: number;
  lambda?: number;
  betaStart?: number;
  betaEnd?: number;
  /** Fraction of the iterations before the regularizer starts and β starts to fall. */
  warmup?: number;
  lr?: number;
}

/** The fixed grid AdaRound rounds on (e.g. RTN's or GPTQ's parameters). */
export interface AdaRoundGrid {
  bits: number;
  /** -1 = per row. */
  groupSize: number;
  scales: Float32Array;
  zeros: Uint8Array;
}

export interface AdaRoundResult extends QuantizedWeight {
  /** tr(ΔHΔᵀ) of round-to-nearest on the same grid. */
  lossNearest: number;
  /** tr(ΔHΔᵀ) of the learned rounding. */
  loss: number;
  /** Weights rounded the other way than to nearest. */
  flips: number;
  iterations: number;
}

export interface AdaRoundLossGrad {
  /** ½·tr(ΔHΔᵀ) at V. */
  rec: number;
  /** λ·Σ(1 − |2h − 1|^β) (0 without the regularizer). */
  reg: number;
  /** ∂(rec + reg)/∂V. */
  grad: Float64Array;
  /** V at initialization (h(V) = frac(W/s)). */
  init: Float64Array;
}

interface Addon {
  hqq(w: Float32Array, rows: number, cols: number, o: object, ctl: NativeJobControl): Promise<HqqResult>;
  adaround(
    w: Float32Array,
    rows: number,
    cols: number,
    H: Float64Array,
    scales: Float32Array,
    zeros: Uint8Array,
    o: object,
    ctl: NativeJobControl,
  ): Promise<AdaRoundResult>;
  adaroundLossGrad(
    w: Float32Array,
    rows: number,
    cols: number,
    H: Float64Array,
    scales: Float32Array,
    zeros: Uint8Array,
    V: Float64Array,
    o: object,
  ): AdaRoundLossGrad;
}

function native(): Addon {
  return loadAddon<Addon>('hqq');
}

function fail(msg: string, code = 'E_ARG'): never {
  throw new LowbitKernelError(msg, code);
}

function checkWeight(w: Float32Array, rows: number, cols: number, bits: number, groupSize: number, what: string): void {
  if (!(w instanceof Float32Array)) fail(`${what}: w must be a Float32Array`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0)
    fail(`${what}: rows and cols must be positive integers (got ${rows}×${cols})`, 'E_SHAPE');
  if (w.length !== rows * cols) fail(`${what}: w (${rows}×${cols}): expected ${rows * cols} values, got ${w.length}`, 'E_SHAPE');
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) fail(`${what}: bits must be an integer in 1..8 (got ${bits})`);
  if (!Number.isInteger(groupSize) || (groupSize !== -1 && groupSize <= 0))
    fail(`${what}: groupSize must be -1 (per row) or a positive integer (got ${groupSize})`);
}

const groups = (cols: number, groupSize: number): number => (groupSize <= 0 || groupSize >= cols ? 1 : Math.ceil(cols / groupSize));

/** HQQ of W (rows × cols): min-max scales fixed, zero points optimized; data-free. */
export async function hqq(w: Float32Array, rows: number, cols: number, opts: HqqOptions, ctl?: JobControl): Promise<HqqResult> {
  checkWeight(w, rows, cols, opts.bits, opts.groupSize, 'hqq');
  const r = await runNativeJob('hqq', ctl, (c) => native().hqq(w, rows, cols, opts, c));
  if (opts.integerZero === false) r.zeros = r.zeroPoints;
  return r;
}

function checkGrid(w: Float32Array, rows: number, cols: number, H: Float64Array, grid: AdaRoundGrid, what: string): void {
  checkWeight(w, rows, cols, grid.bits, grid.groupSize, what);
  if (!(H instanceof Float64Array) || H.length !== cols * cols) fail(`${what}: H must be a Float64Array of ${cols}×${cols}`, 'E_SHAPE');
  const n = rows * groups(cols, grid.groupSize);
  if (!(grid.scales instanceof Float32Array) || grid.scales.length !== n)
    fail(`${what}: scales must be a Float32Array of ${n} (rows × groups) values`, 'E_SHAPE');
  if (!(grid.zeros instanceof Uint8Array) || grid.zeros.length !== n)
    fail(`${what}: zeros must be a Uint8Array of ${n} (rows × groups) values`, 'E_SHAPE');
}

/** Layer-wise AdaRound of W on a fixed grid under the layer Hessian H (cols × cols). */
export async function adaround(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array,
  grid: AdaRoundGrid,
  opts: AdaRoundOptions,
  ctl?: JobControl,
): Promise<AdaRoundResult> {
  checkGrid(w, rows, cols, H, grid, 'adaround');
  const o = { ...opts, bits: grid.bits, groupSize: grid.groupSize <= 0 ? cols : grid.groupSize };
  return runNativeJob('adaround', ctl, (c) => native().adaround(w, rows, cols, H, grid.scales, grid.zeros, o, c));
}

/** AdaRound's objective and hand-derived gradient at V (for tests and diagnostics; synchronous). */
export function adaroundLossGrad(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array,
  grid: AdaRoundGrid,
  V: Float64Array,
  opts: AdaRoundOptions & { beta: number; withReg: boolean },
): AdaRoundLossGrad {
  checkGrid(w, rows, cols, H, grid, 'adaroundLossGrad');
  if (!(V instanceof Float64Array) || V.length !== rows * cols)
    fail(`adaroundLossGrad: V must be a Float64Array of ${rows * cols}`, 'E_SHAPE');
  const o = { ...opts, bits: grid.bits, groupSize: grid.groupSize <= 0 ? cols : grid.groupSize };
  try {
    return native().adaroundLossGrad(w, rows, cols, H, grid.scales, grid.zeros, V, o);
  } catch (e) {
    const err = e as Error & { code?: string };
    throw new LowbitKernelError(`adaroundLossGrad: ${err.message}`, err.code ?? 'E_NUMERIC');
  }
}
