/**
 * Typed wrapper over the linear-method kernels of the native addon (docs/algorithms.md §1–2): Hessian
 * accumulation, RTN, GPTQ, the H-weighted relative error and a MatMulNBits packer. Re-exports the
 * binarization / low-rank wrapper (./binaryLowRank) so that the engine has one import.
 *
 * Conventions (row-major): `w` is W as rows × cols = out × in (an ONNX MatMul initializer B is in × out:
 * pass its transpose). `H` is cols × cols, float64. Codes are unpacked, one byte each, in [0, 2^bits − 1];
 * ŵ = scale·(code − zero) with the fp32 scale (bit-identical to MatMulNBits' dequantization).
 * Symmetric quantization is GPTQ-style: zero = 2^(bits−1) (MatMulNBits' default zero point).
 *
 * Errors: rejected / thrown as {@link LowbitKernelError} with `code` E_ARG, E_SHAPE, E_NUMERIC or E_CANCELLED.
 * Inputs are read in place (zero-copy) while a kernel runs: do not mutate `w` or `H` (nor add() to a
 * {@link Hessian} passed as H) until its promise settles.
 */
import { LowbitKernelError, loadAddon } from './addon';
import { type JobControl, type NativeJobControl, runNativeJob } from './job';
import type { QuantizedWeight } from './quantizedWeight';
import { pruneOptions, type SparsitySpec } from './sparse';

export * from './binaryLowRank';
export * from './sparse';

export type { QuantizedWeight } from './quantizedWeight';

/** RTN options. */
export interface RtnOptions {
  bits: number;
  /** -1 = per row (one group of all columns). A ragged last group uses its real columns only. */
  groupSize: number;
  symmetric: boolean;
  /** gptq quant.py MSE clip search (norm 2.4, grid 100, maxshrink 0.8). */
  mseClip?: boolean;
}

/** GPTQ options (gptq.py defaults). */
export interface GptqOptions extends RtnOptions {
  /** Relative damping percdamp (default 0.01); multiplied by 10 while H is not positive definite. */
  damp?: number;
  /** Lazy-update block size (default 128); blocks are also cut at group boundaries (non-static groups). */
  blockSize?: number;
  /** Process columns by descending diag(H) (stable sort: ties keep the column order). */
  actOrder?: boolean;
  /** Group parameters from the unpermuted W before the solve. Forced on with actOrder and groups, so
   *  that the per-group parameters stay contiguous (MatMulNBits needs no g_idx). */
  staticGroups?: boolean;
  /** The whole solve in exact fp64 (the float64 reference tests) instead of the default: GPTQ in the
   *  authors' fp32 working precision, SparseGPT / GPTAQ with fp32 products summed into fp64 weights
   *  (see docs/decisions.md, issue 11: bounded code flips, tested). */
  fp64Updates?: boolean;
  /** SparseGPT: prune while quantizing (needs actOrder off; N:M needs cols, blockSize and the group size to be multiples of M). */
  sparsity?: SparsitySpec;
  /** With sparsity: keep the survivors in float (pure pruning, no quantization). */
  pruneOnly?: boolean;
}

/** GPTAQ options: GPTQ's plus the authors' α (default 0.25) scaling the asymmetric term P. */
export interface GptaqOptions extends GptqOptions {
  alpha?: number;
}

/** Cooperative cancellation, progress (columns done of total) and thread count (0 = all cores). */
export type { JobControl } from './job';

/** GPTQ output: the quantized weight plus the solver's statistics. */
export interface GptqResult extends QuantizedWeight {
  /** Σ (w − q)²/(2·U_jj²) = ½·tr(ΔH_dΔᵀ) with H_d the damped Hessian (dead columns set to 1). */
  loss: number;
  /** The relative damping actually used. */
  damp: number;
  /** How many times damp was multiplied by 10. */
  dampRetries: number;
  /** With a sparsity: the rows×cols mask, 1 = kept. */
  keep?: Uint8Array;
}

interface Addon {
  rtn(w: Float32Array, rows: number, cols: number, o: object, ctl: NativeJobControl): Promise<QuantizedWeight>;
  gptq(w: Float32Array, rows: number, cols: number, H: Float64Array, o: object, ctl: NativeJobControl): Promise<GptqResult>;
  gptaq(
    w: Float32Array,
    rows: number,
    cols: number,
    H: Float64Array,
    D: Float64Array,
    o: object,
    ctl: NativeJobControl,
  ): Promise<GptqResult>;
  crossAdd(D: Float64Array, n: number, samples: number, x: Float32Array, xq: Float32Array, tokens: number, threads: number): number;
  hessianAdd(H: Float64Array, n: number, samples: number, x: Float32Array, tokens: number, threads: number): number;
  relativeError(w: Float32Array, what: Float32Array, rows: number, cols: number, H: Float64Array, threads: number): number;
}

function native(): Addon {
  return loadAddon<Addon>('gptq');
}

function fail(msg: string, code = 'E_ARG'): never {
  throw new LowbitKernelError(msg, code);
}
function checkDims(rows: number, cols: number, what: string): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0)
    fail(`${what}: rows and cols must be positive integers (got ${rows}×${cols})`, 'E_SHAPE');
}
function checkLen(a: { length: number }, n: number, what: string): void {
  if (a.length !== n) fail(`${what}: expected ${n} values, got ${a.length}`, 'E_SHAPE');
}
function checkQuant(w: Float32Array, rows: number, cols: number, o: RtnOptions, what: string): void {
  if (!(w instanceof Float32Array)) fail(`${what}: w must be a Float32Array`);
  checkDims(rows, cols, what);
  checkLen(w, rows * cols, `${what}: w (${rows}×${cols})`);
  if (!Number.isInteger(o.bits) || o.bits < 1 || o.bits > 8) fail(`${what}: bits must be an integer in 1..8 (got ${o.bits})`);
  if (!Number.isInteger(o.groupSize) || (o.groupSize !== -1 && o.groupSize <= 0))
    fail(`${what}: groupSize must be -1 (per row) or a positive integer (got ${o.groupSize})`);
  // Finiteness of every weight is checked natively (CheckWeight, on every core; E_NUMERIC naming the
  // row and column), not in a loop on the JS thread.
}

/** Round-to-nearest quantization of W (rows × cols = out × in), docs/algorithms.md §1. */
export async function rtn(w: Float32Array, rows: number, cols: number, opts: RtnOptions, ctl?: JobControl): Promise<QuantizedWeight> {
  checkQuant(w, rows, cols, opts, 'rtn');
  return runNativeJob('rtn', ctl, (c) => native().rtn(w, rows, cols, opts, c));
}

/**
 * The shape Hessian and CrossStatistic share: an n × n float64 matrix accumulated natively over
 * tokens (N counts the rows of every add() so far), read as a live view.
 */
abstract class TokenStatistic {
  readonly n: number;
  private readonly m: Float64Array;
  private count = 0;
  protected constructor(n: number, what: string) {
    if (!Number.isInteger(n) || n <= 0) fail(`${what}: n must be a positive integer (got ${n})`, 'E_SHAPE');
    this.n = n;
    this.m = new Float64Array(n * n);
  }
  /** Tokens accumulated so far (N). */
  get samples(): number {
    return this.count;
  }
  /** The n × n matrix (live view, not a copy: do not mutate). */
  matrix(): Float64Array {
    return this.m;
  }
  /**
   * Checks `tokens` and each named input (tokens × n), then runs the native accumulation
   * step(matrix, samples so far) → new sample count; a native error becomes a LowbitKernelError.
   */
  protected accumulate(
    what: string,
    tokens: number,
    inputs: Record<string, Float32Array>,
    step: (m: Float64Array, count: number) => number,
  ): void {
    if (!Number.isInteger(tokens) || tokens <= 0) fail(`${what}: tokens must be a positive integer (got ${tokens})`, 'E_SHAPE');
    for (const [name, x] of Object.entries(inputs)) checkLen(x, tokens * this.n, `${what}: ${name} (${tokens}×${this.n})`);
    try {
      this.count = step(this.m, this.count);
    } catch (e) {
      const err = e as Error & { code?: string };
      throw new LowbitKernelError(err.message, err.code ?? 'E_NUMERIC');
    }
  }
}

/**
 * Streamed layer Hessian H = 2/N·Σ x xᵀ in float64. N counts TOKENS (rows of x over all add() calls),
 * so H is the mean 2xxᵀ per token; its scale does not change GPTQ. add() runs synchronously on the
 * native side (multithreaded, fixed summation order) and returns an already-settled promise, so calling
 * it without awaiting is safe too.
 */
export class Hessian extends TokenStatistic {
  constructor(n: number) {
    super(n, 'Hessian');
  }
  /** Adds `tokens` rows of x (tokens × n, row-major). */
  async add(x: Float32Array, tokens: number, threads = 0): Promise<void> {
    if (!(x instanceof Float32Array)) fail('Hessian.add: x must be a Float32Array');
    this.accumulate('Hessian.add', tokens, { x }, (h, count) => native().hessianAdd(h, this.n, count, x, tokens, threads));
  }
}

/**
 * GPTAQ's cross statistic D = 2/N·Σ (x − x̃)x̃ᵀ in float64 (D[a][b] = Σ_t Δx_a·x̃_b), scaled like
 * {@link Hessian} (N counts tokens): x are a layer's inputs in the float model, x̃ the same tokens'
 * inputs with the quantized prefix. Synchronous on the native side, like Hessian.add.
 */
export class CrossStatistic extends TokenStatistic {
  constructor(n: number) {
    super(n, 'CrossStatistic');
  }
  /** Adds `tokens` rows of the float inputs x and the quantized-prefix inputs xq (both tokens × n). */
  add(x: Float32Array, xq: Float32Array, tokens: number, threads = 0): void {
    if (!(x instanceof Float32Array) || !(xq instanceof Float32Array)) fail('CrossStatistic.add: x and xq must be Float32Arrays');
    this.accumulate('CrossStatistic.add', tokens, { x, xq }, (d, count) => native().crossAdd(d, this.n, count, x, xq, tokens, threads));
  }
}

function hessianOf(H: Float64Array | Hessian, cols: number, what: string): Float64Array {
  const m = H instanceof Hessian ? H.matrix() : H;
  if (!(m instanceof Float64Array)) fail(`${what}: H must be a Float64Array or a Hessian`);
  checkLen(m, cols * cols, `${what}: H (${cols}×${cols})`);
  return m;
}

/**
 * The argument checks GPTQ, SparseGPT (GPTQ with a sparsity), GPTAQ and the naive baseline share:
 * W and its options, H (cols × cols), damp and blockSize. Returns H's matrix.
 */
function checkGptqArgs(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | Hessian,
  opts: GptqOptions,
  what: string,
): Float64Array {
  checkQuant(w, rows, cols, opts, what);
  const h = hessianOf(H, cols, what);
  if (opts.damp !== undefined && !(opts.damp >= 0 && Number.isFinite(opts.damp)))
    fail(`${what}: damp must be a finite number >= 0 (got ${opts.damp})`);
  if (opts.blockSize !== undefined && !(Number.isInteger(opts.blockSize) && opts.blockSize > 0))
    fail(`${what}: blockSize must be a positive integer (got ${opts.blockSize})`);
  return h;
}

/** GPTQ (docs/algorithms.md §2) of W with the layer Hessian H (cols × cols; a {@link Hessian} is accepted too). */
export async function gptq(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | Hessian,
  opts: GptqOptions,
  ctl?: JobControl,
): Promise<GptqResult> {
  const h = checkGptqArgs(w, rows, cols, H, opts, 'gptq');
  const o = opts.sparsity ? { ...opts, ...pruneOptions(opts.sparsity, opts.pruneOnly) } : opts;
  return runNativeJob('gptq', ctl, (c) => native().gptq(w, rows, cols, h, o, c));
}

/**
 * GPTAQ (Li et al. 2025; asymmetric calibration): GPTQ on the quantized-prefix Hessian H plus the
 * cross term from D = 2/N·Σ (x − x̃)x̃ᵀ (a {@link CrossStatistic} over the same tokens as H). D = 0
 * gives exactly {@link gptq}.
 */
export async function gptaq(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | Hessian,
  D: Float64Array | CrossStatistic,
  opts: GptaqOptions,
  ctl?: JobControl,
): Promise<GptqResult> {
  const h = checkGptqArgs(w, rows, cols, H, opts, 'gptaq');
  const d = D instanceof CrossStatistic ? D.matrix() : D;
  if (!(d instanceof Float64Array)) fail('gptaq: D must be a Float64Array or a CrossStatistic');
  checkLen(d, cols * cols, `gptaq: D (${cols}×${cols})`);
  if (opts.alpha !== undefined && !Number.isFinite(opts.alpha)) fail(`gptaq: alpha must be a finite number (got ${opts.alpha})`);
  return runNativeJob('gptaq', ctl, (c) => native().gptaq(w, rows, cols, h, d, opts, c));
}

/** Benchmark baseline only: the same GPTQ solve with the lazy block update as a naive triple loop. */
export async function gptqNaiveBaseline(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | Hessian,
  opts: GptqOptions,
  ctl?: JobControl,
): Promise<GptqResult> {
  const h = checkGptqArgs(w, rows, cols, H, opts, 'gptqNaiveBaseline');
  return runNativeJob('gptqNaiveBaseline', ctl, (c) => native().gptq(w, rows, cols, h, { ...opts, naiveBaseline: true }, c));
}

/** tr(ΔHΔᵀ)/tr(WHWᵀ) with Δ = W − Ŵ (0 when W is 0 and Ŵ = W). */
export function relativeError(
  w: Float32Array,
  what: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | Hessian,
  threads = 0,
): number {
  checkDims(rows, cols, 'relativeError');
  checkLen(w, rows * cols, 'relativeError: w');
  checkLen(what, rows * cols, 'relativeError: what');
  const h = hessianOf(H, cols, 'relativeError');
  try {
    return native().relativeError(w, what, rows, cols, h, threads);
  } catch (e) {
    const err = e as Error & { code?: string };
    throw new LowbitKernelError(`relativeError: ${err.message}`, err.code ?? 'E_NUMERIC');
  }
}

export { packMatMulNBits } from './packMatMulNBits';

/** Names of the kernels this wrapper provides. */
export function listKernels(): string[] {
  return [
    'hessian',
    'rtn',
    'gptq',
    'pruneRtn',
    'jsqRangeTerm',
    'jsqOutputError',
    'relativeError',
    'packMatMulNBits',
    'billm',
    'pbllm',
    'dualBinarize',
    'svd',
    'r1Sketch',
    'flrq',
    'lorc',
    'lqer',
  ];
}

// AWQ / SmoothQuant / OS+ scale searches (layer-local tr(ΔHΔᵀ) loss), C++-backed.
export * from './scaling';

// HQQ and layer-wise AdaRound (rounding optimization), C++-backed.
export * from './rounding';
// Allocator settings for long streamed jobs (glibc).
export { releaseScratch, returnLargeFrees, trimHeaps } from './processMemory';
