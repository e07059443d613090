/**
 * Typed wrapper over the binarization and low-rank kernels of the native addon (issue 4):
 * BiLLM, PB-LLM, dual binarization, SVD, R1-Sketch, FLRQ, LoRC and LQER (docs/algorithms.md §4–5).
 *
 * Layout conventions (all row-major):
 * - `w` is the weight W as `rows × cols` = out × in (an ONNX MatMul initializer B is in × out, so
 *   pass its transpose).
 * - `H` is the layer Hessian 2XXᵀ/N, `cols × cols`, float64.
 * - `actMean` is the per-input-channel mean |x| (length `cols`), float32.
 * - Low-rank results satisfy W ≈ dequant + L·R with L `rows × rank` and R `rank × cols`.
 *
 * Every kernel runs off the JS thread and accepts {@link KernelJobOptions}: an AbortSignal (cooperative:
 * checked between column blocks / ranks, rejects with code `E_CANCELLED`), a progress callback
 * (fraction in [0, 1]) and a thread count (results never depend on it). Inputs are read in place
 * (zero-copy) while a kernel runs: do not mutate `w`, `H`, `actMean` until its promise settles.
 */
import { LowbitKernelError, loadAddon } from './addon';
import { type NativeJobControl, runNativeJob } from './job';

/** Cancellation / progress / threading control shared by all async kernels. */
export interface KernelJobOptions {
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Worker threads, 0 = all cores. */
  threads?: number;
  /** Layer name prefixed to error messages. */
  layer?: string;
}

/** Alias of {@link KernelJobOptions} (the engine imports it under this name). */
export type JobOptions = KernelJobOptions;

export { LowbitKernelError };

interface Addon {
  billm: (...a: unknown[]) => Promise<BillmResult>;
  pbllm: (...a: unknown[]) => Promise<PbllmResult>;
  dualBinarize: (...a: unknown[]) => Promise<DualBinResult>;
  binarizeRow: (w: Float64Array, mask: Uint8Array | null, order: number, fp16: boolean) => BinarizeRowResult;
  billmSearchBlock: (s: Float64Array, rows: number, count: number, upLim: number) => BlockSearchResult;
  hessianInverseFactor: (H: Float64Array, n: number, percdamp: number) => { U: Float64Array; dead: Uint8Array };
  svd: (...a: unknown[]) => Promise<{ u: Float64Array; s: Float64Array; vt: Float64Array }>;
  r1Sketch: (...a: unknown[]) => Promise<{ L: Float64Array; R: Float64Array }>;
  flrq: (...a: unknown[]) => Promise<LowRankResult>;
  lorc: (...a: unknown[]) => Promise<LowRankResult>;
  lqer: (...a: unknown[]) => Promise<LowRankResult>;
  quantizeSymAbsmax: (w: Float64Array, rows: number, cols: number, bits: number, g: number, clip: boolean) => SymQuantResult;
}

function load(): Addon {
  return loadAddon<Addon>('billm');
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new LowbitKernelError(what, 'E_INPUT');
}
function checkMatrix(a: ArrayLike<number>, rows: number, cols: number, name: string): void {
  check(
    Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0,
    `${name}: rows and cols must be positive integers (got ${rows}×${cols})`,
  );
  check(a.length === rows * cols, `${name}: expected ${rows}×${cols} = ${rows * cols} values, got ${a.length}`);
}
function toF64(a: Float32Array | Float64Array): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a);
}

/** Runs a kernel with the shared job contract; progress reaches `opts.onProgress` as a fraction. */
function runKernel<T>(opts: KernelJobOptions, start: (ctl: NativeJobControl) => Promise<T>): Promise<T> {
  const { signal, threads, onProgress } = opts;
  const fraction = onProgress && ((done: number, total: number) => onProgress(total ? done / total : 1));
  return runNativeJob(opts.layer, { signal, threads, onProgress: fraction }, start);
}

// ---------------------------------------------------------------- binarization

/** BiLLM options (bigptq.py defaults). */
export interface BillmOptions extends KernelJobOptions {
  /** Block = group of columns (default 128). */
  blockSize?: number;
  /** Hessian dampening fraction of mean(diag H) (default 0.01; retried ×10 if not PD). */
  percdamp?: number;
  /** Salient columns tried per block: k = 1..salientUpLim−1 (default 50). */
  salientUpLim?: number;
  /** Exact mode: intra-block error feedback (signs refit per column, block α/μ kept). */
  exact?: boolean;
  /** Saliency S = W²/U_jj² (default, `salient_metric: hessian`) or S = W (`magnitude`, BiLLM structure.py). */
  hessianSaliency?: boolean;
  /** Round α/μ to fp16 (what the stored form holds; default true). */
  fp16Scales?: boolean;
}

/** Matches `BinarizationDetails` in protocol/report.ts. */
export interface BinarizationDetailsOut {
  saliency: { rows: number; cols: number; values: number[] };
  column_profile: number[];
  salient_columns: number[];
  split_points: number[];
  bits_claimed: number;
  bits_stored: number;
}

/**
 * Compact BiLLM form. Bit planes are rows×cols bits, bit index r·cols + c, little-endian in each
 * byte. `salientCols` has one bit per column. `scales` is rows × ceil(cols/blockSize) × 8 float32
 * values (fp16-representable): (α,μ) sparse group, (α,μ) dense group, (α₁,μ₁) and (α₂,μ₂) of the
 * salient order-2 residual. Decode (see {@link decodeBillm}): salient column → ±α₁+μ₁ ± α₂+μ₂ with
 * signs sign1/sign2; otherwise group bit picks dense/sparse and ŵ = ±α+μ with sign1 (bit 1 = +).
 */
export interface BillmStored {
  sign1: Uint8Array;
  sign2: Uint8Array;
  group: Uint8Array;
  salientCols: Uint8Array;
  scales: Float32Array;
}

export interface BillmResult {
  /** Dequantized weight rows×cols (equals decodeBillm(stored)). */
  dequant: Float32Array;
  stored: BillmStored;
  details: BinarizationDetailsOut;
  /** Σ(w−q)²/(2U_jj²), the reference's loss. */
  loss: number;
}

/** BiLLM binarization of one layer (faithful to the reference unless `exact`). */
export async function billm(w: Float32Array, rows: number, cols: number, H: Float64Array, opts: BillmOptions = {}): Promise<BillmResult> {
  checkMatrix(w, rows, cols, 'billm w');
  checkMatrix(H, cols, cols, 'billm H');
  return runKernel(opts, (ctl) => load().billm(w, rows, cols, H, opts, ctl));
}

/** Decodes a {@link BillmStored} back to fp32 weights (rows×cols). */
export function decodeBillm(s: BillmStored, rows: number, cols: number, blockSize = 128): Float32Array {
  const out = new Float32Array(rows * cols);
  const nb = Math.ceil(cols / blockSize);
  const bit = (p: Uint8Array, i: number) => (p[i >> 3]! >> (i & 7)) & 1;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const o = (r * nb + Math.floor(c / blockSize)) * 8;
      const sc = s.scales;
      const s1 = bit(s.sign1, i) ? 1 : -1;
      let v: number;
      if (bit(s.salientCols, c)) v = s1 * sc[o + 4]! + sc[o + 5]! + (bit(s.sign2, i) ? 1 : -1) * sc[o + 6]! + sc[o + 7]!;
      else {
        const g = bit(s.group, i) ? 2 : 0;
        v = s1 * sc[o + g]! + sc[o + g + 1]!;
      }
      out[i] = v;
    }
  return out;
}

/** PB-LLM options (gptq_pb defaults). */
export interface PbllmOptions extends KernelJobOptions {
  /** Fraction of each group's least salient entries that are binarized (default 0.9). */
  lowFrac?: number;
  /** Mask/parameter group along columns; −1 = whole row (default). */
  groupSize?: number;
  blockSize?: number;
  percdamp?: number;
  /** Saliency w²/U_jj² (default) or |w|. */
  hessianSaliency?: boolean;
  /** Bits of the asymmetric per-row grid of the salient entries, 2..8 (default 8, the reference's HighQuantizer). */
  highBits?: number;
}

export interface PbllmResult {
  dequant: Float32Array;
  /** rows×cols bytes, 1 = binarized entry. */
  mask: Uint8Array;
  /** rows × groups × (α, μ). */
  binParams: Float32Array;
  /** rows × groups × (scale, zero) of the highBits-bit asymmetric grid. */
  q8Params: Float32Array;
  bitsClaimed: number;
  bitsStored: number;
  loss: number;
}

/** PB-LLM partial binarization with a full-feedback GPTQ loop. */
export async function pbllm(w: Float32Array, rows: number, cols: number, H: Float64Array, opts: PbllmOptions = {}): Promise<PbllmResult> {
  checkMatrix(w, rows, cols, 'pbllm w');
  checkMatrix(H, cols, cols, 'pbllm H');
  check(opts.lowFrac === undefined || (opts.lowFrac >= 0 && opts.lowFrac <= 1), 'pbllm: lowFrac must be in [0, 1]');
  check(
    opts.highBits === undefined || (Number.isInteger(opts.highBits) && opts.highBits >= 2 && opts.highBits <= 8),
    'pbllm: highBits must be an integer in 2..8',
  );
  return runKernel(opts, (ctl) => load().pbllm(w, rows, cols, H, opts, ctl));
}

export interface DualBinOptions extends KernelJobOptions {
  /** Columns per (α₁, α₂) group (default 128). */
  groupSize?: number;
  /** Alternating refit iterations (default 10). */
  iters?: number;
  /** Starting point instead of the 2-bit RTN grid (e.g. 2-bit GPTQ codes in FDB form, see fdbFromGrid):
   *  rows×cols b₁, b₂ (0/1) and rows × groups × (α₁, α₂). */
  init?: { b1: Uint8Array; b2: Uint8Array; alphas: Float32Array };
}

export interface DualBinResult {
  /** ŵ = α₁b₁ + α₂b₂. */
  dequant: Float32Array;
  b1: Uint8Array;
  b2: Uint8Array;
  /** rows × groups × (α₁, α₂). */
  alphas: Float32Array;
  /** Σ(w−ŵ)² after each iteration (index 0 = 2-bit initialization); non-increasing. */
  errorCurve: number[];
  bitsStored: number;
}

/** Dual binarization (DB-LLM FDB form, PTQ alternating refit). */
export async function dualBinarize(w: Float32Array, rows: number, cols: number, opts: DualBinOptions = {}): Promise<DualBinResult> {
  checkMatrix(w, rows, cols, 'dualBinarize w');
  const { init, ...rest } = opts;
  const flat = init ? { ...rest, initB1: init.b1, initB2: init.b2, initAlphas: init.alphas } : rest;
  return runKernel(opts, (ctl) => load().dualBinarize(w, rows, cols, flat, ctl));
}

/**
 * A 2-bit asymmetric grid ŵ = s·(q − z), q ∈ 0..3, integer z ∈ 0..3 (RTN/GPTQ codes), rewritten
 * exactly in dual-binarization form ŵ = α₁b₁ + α₂b₂: the four levels {−z, 1−z, 2−z, 3−z}·s always
 * contain 0, and {0, α₂, α₁, α₁+α₂} takes α₁ = ±2s, α₂ = ±s (signs by z). `scales`/`zeros` are
 * rows × groups (groups of `groupSize` columns, the last one ragged).
 */
export function fdbFromGrid(
  codes: Uint8Array,
  scales: Float32Array,
  zeros: Uint8Array,
  rows: number,
  cols: number,
  groupSize: number,
): { b1: Uint8Array; b2: Uint8Array; alphas: Float32Array } {
  const g = groupSize <= 0 || groupSize > cols ? cols : groupSize;
  const ng = Math.ceil(cols / g);
  check(
    codes.length === rows * cols && scales.length === rows * ng && zeros.length === rows * ng,
    'fdbFromGrid: codes must be rows×cols and scales/zeros rows×groups',
  );
  // Per zero point z: (α₁, α₂) in units of s, and the (b₁, b₂) of each code q.
  const forZero = [
    {
      a: [2, 1],
      b: [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ],
    }, // {0, 1, 2, 3}
    {
      a: [2, -1],
      b: [
        [0, 1],
        [0, 0],
        [1, 1],
        [1, 0],
      ],
    }, // {−1, 0, 1, 2}
    {
      a: [-2, 1],
      b: [
        [1, 0],
        [1, 1],
        [0, 0],
        [0, 1],
      ],
    }, // {−2, −1, 0, 1}
    {
      a: [-2, -1],
      b: [
        [1, 1],
        [1, 0],
        [0, 1],
        [0, 0],
      ],
    }, // {−3, −2, −1, 0}
  ];
  const b1 = new Uint8Array(rows * cols),
    b2 = new Uint8Array(rows * cols),
    alphas = new Float32Array(rows * ng * 2);
  for (let r = 0; r < rows; r++)
    for (let gi = 0; gi < ng; gi++) {
      const z = zeros[r * ng + gi],
        s = scales[r * ng + gi];
      check(z <= 3, `fdbFromGrid: zero point ${z} at row ${r}, group ${gi} is not a 2-bit code`);
      const f = forZero[z];
      alphas[(r * ng + gi) * 2] = f.a[0] * s;
      alphas[(r * ng + gi) * 2 + 1] = f.a[1] * s;
      for (let c = gi * g; c < Math.min(cols, (gi + 1) * g); c++) {
        const q = codes[r * cols + c];
        check(q <= 3, `fdbFromGrid: code ${q} at row ${r}, column ${c} is not a 2-bit code`);
        b1[r * cols + c] = f.b[q][0];
        b2[r * cols + c] = f.b[q][1];
      }
    }
  return { b1, b2, alphas };
}

export interface BinarizeRowResult {
  values: Float64Array;
  alphas: number[];
  mus: number[];
}
/** Synchronous order-k residual binarization of one row's masked entries (test/inspection hook). */
export function binarizeRow(w: Float64Array, mask: Uint8Array | null, order: number, fp16 = false): BinarizeRowResult {
  return load().binarizeRow(w, mask, order, fp16);
}

export interface BlockSearchResult {
  salient: Uint8Array;
  k: number;
  split: number;
  splitErrors: number[];
  bestSplit: number;
}
/** Synchronous BiLLM structural search on one block's saliency S (rows×count). */
export function billmSearchBlock(S: Float64Array, rows: number, count: number, upLim = 50): BlockSearchResult {
  checkMatrix(S, rows, count, 'billmSearchBlock S');
  return load().billmSearchBlock(S, rows, count, upLim);
}

/**
 * Synchronous inverse-Hessian factor used by BiLLM/PB-LLM: dead columns (H_jj = 0) get H_jj = 1,
 * H += percdamp·mean(diag H)·I (×10 retries if not PD), then U upper triangular with
 * H⁻¹ = UᵀU (torch `cholesky(cholesky_inverse(chol(H)), upper=True)`). n×n row-major.
 */
export function hessianInverseFactor(H: Float64Array, n: number, percdamp = 0.01): { U: Float64Array; dead: Uint8Array } {
  checkMatrix(H, n, n, 'hessianInverseFactor H');
  return load().hessianInverseFactor(H, n, percdamp);
}

// ---------------------------------------------------------------- low rank

export interface SvdResult {
  /** rows×k, k = min(rows, cols). */
  u: Float64Array;
  /** k singular values, descending. */
  s: Float64Array;
  /** k×cols. */
  vt: Float64Array;
  k: number;
}

/** Thin float64 SVD (Gram-matrix eigen decomposition; small σ accurate in absolute terms only). */
export async function svd(a: Float32Array | Float64Array, rows: number, cols: number, opts: KernelJobOptions = {}): Promise<SvdResult> {
  checkMatrix(a, rows, cols, 'svd a');
  const r = await runKernel(opts, (ctl) => load().svd(toF64(a), rows, cols, ctl));
  return { ...r, k: Math.min(rows, cols) };
}

export interface R1SketchOptions extends KernelJobOptions {
  rank: number;
  /** Power iterations per component (default 2). */
  iters?: number;
  /** RNG seed (default 0). */
  seed?: number;
}

/** Rank-r R1-Sketch by deflation: A ≈ L·R with L rows×rank, R rank×cols. */
export async function r1Sketch(
  a: Float32Array | Float64Array,
  rows: number,
  cols: number,
  opts: R1SketchOptions,
): Promise<{ L: Float64Array; R: Float64Array }> {
  checkMatrix(a, rows, cols, 'r1Sketch a');
  check(
    Number.isInteger(opts.rank) && opts.rank >= 0 && opts.rank <= Math.min(rows, cols),
    `r1Sketch: rank must be in [0, ${Math.min(rows, cols)}]`,
  );
  return runKernel(opts, (ctl) => load().r1Sketch(toF64(a), rows, cols, opts, ctl));
}

/** Matches `LowRankDetails` in protocol/report.ts. */
export interface LowRankDetailsOut {
  rank: number;
  curve: number[];
  /** Extra bits per weight relative to the main bits: 16·r(m+n)/(b·m·n). */
  storage_overhead: number;
  /** tr(ΔHΔᵀ)/tr(WHWᵀ) of plain Q(W) with the same quantizer (H = I when absent): the report's `rel_error`. */
  rel_error_before: number;
  /** Same for Q + L·R. */
  rel_error_after: number;
}

/** Low-rank result; main weight in MatMulNBits form (codes = q + 2^(b−1), default zero point). */
export interface LowRankResult {
  /** rows×cols unpacked codes, [1, 2^b − 1] (quantizer rtn) or [0, 2^b − 1] (gptq); dequant = (code − 2^(b−1))·scale. */
  codes: Uint8Array;
  /** rows × ceil(cols/groupSize). */
  scales: Float32Array;
  /** rows × ceil(cols/groupSize) zero points (quantizer 'gptq_asym'); absent = 2^(b−1). dequant = (code − zero)·scale. */
  zeros?: Uint8Array;
  dequant: Float32Array;
  bits: number;
  groupSize: number;
  rank: number;
  L: Float32Array;
  R: Float32Array;
  details: LowRankDetailsOut;
  /** FLRQ: best-so-far tr(ΔHΔᵀ) at each BLC evaluation (non-increasing); empty for baselines. */
  blcBest: number[];
}

export interface FlrqOptions extends KernelJobOptions {
  bits?: number;
  groupSize?: number;
  /** Storage budget x: stop when 1 + 16r(m+n)/(b·m·n) > 1 + x (default 0.2). */
  budget?: number;
  /** Amax slope threshold t (avg relative drop over the last 4 ranks, default 1e-3). */
  slope?: number;
  maxRank?: number;
  sketchIters?: number;
  seed?: number;
  /** BLC epochs (default 1; ~20 at 2 bits). */
  blcEpochs?: number;
  /** Activation scaling (Eq. 10–11) when actMean is given (default true). */
  actScaling?: boolean;
  actExponent?: number;
  /** Rank rule: 'spec' (docs/algorithms.md §5a, default) or 'authors' (the FLRQ authors' r1_sketch.py
   *  get_best_sketch_fp8_ret: d_fp 12, 16-rank window, fp8 e5m2 factors; see native lowrank.h). */
  rankRule?: 'spec' | 'authors';
  /** Per-group clip-ratio search for the residual quantizer (default true; quantizer 'rtn' only). */
  clipSearch?: boolean;
  /** Residual quantizer, used at initialization and in every BLC epoch: 'rtn' = symmetric absmax RTN
   *  with clip search (the paper's Eq. 8, default); 'gptq' = GPTQ against H on its symmetric grid
   *  (zero 2^(b−1); damp 0.01, block 128, act-order with static groups); 'gptq_asym' = the FLRQ
   *  authors' GPTQ (asymmetric min-max grid, MSE range search, act-order off; zero points returned).
   *  'gptq' and 'gptq_asym' need H. */
  quantizer?: ResidualQuantizer;
}

/** How the low-rank methods quantize the main weight (see FlrqOptions.quantizer). */
export type ResidualQuantizer = 'rtn' | 'gptq' | 'gptq_asym';

function checkQuantizer(q: unknown, H: Float64Array | null, what: string): void {
  check(
    q === undefined || q === 'rtn' || q === 'gptq' || q === 'gptq_asym',
    `${what}: quantizer must be 'rtn', 'gptq' or 'gptq_asym' (got ${String(q)})`,
  );
  check(q === undefined || q === 'rtn' || H !== null, `${what}: quantizer '${String(q)}' needs the Hessian H`);
}

/** FLRQ: R1-FLR low rank + clipped symmetric quantization + BLC. */
export async function flrq(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | null,
  actMean: Float32Array | null,
  opts: FlrqOptions = {},
): Promise<LowRankResult> {
  checkMatrix(w, rows, cols, 'flrq w');
  if (H) checkMatrix(H, cols, cols, 'flrq H');
  check(!actMean || actMean.length === cols, `flrq: actMean must have ${cols} entries`);
  checkQuantizer(opts.quantizer, H, 'flrq');
  return runKernel(opts, (ctl) => load().flrq(w, rows, cols, H, actMean, opts, ctl));
}

export interface BaselineOptions extends KernelJobOptions {
  bits?: number;
  groupSize?: number;
  /** Rank r (default 8). */
  rank?: number;
  /** 8 = int8 fake-quantized factors (default), 0 = float factors. */
  factorBits?: 0 | 8;
  clipSearch?: boolean;
  /** Quantizer of W before the error SVD: 'rtn' (symmetric absmax, default) or 'gptq' (needs H). */
  quantizer?: ResidualQuantizer;
}

/** LoRC: rank-r SVD of the quantization error, split Σ^½ on both sides. */
export async function lorc(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | null,
  opts: BaselineOptions = {},
): Promise<LowRankResult> {
  checkMatrix(w, rows, cols, 'lorc w');
  if (H) checkMatrix(H, cols, cols, 'lorc H');
  checkQuantizer(opts.quantizer, H, 'lorc');
  return runKernel(opts, (ctl) => load().lorc(w, rows, cols, H, opts, ctl));
}

/** LQER / L²QER: rank-k SVD of the error scaled by diag(actMean) (plain SVD when null). */
export async function lqer(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array | null,
  actMean: Float32Array | null,
  opts: BaselineOptions = {},
): Promise<LowRankResult> {
  checkMatrix(w, rows, cols, 'lqer w');
  if (H) checkMatrix(H, cols, cols, 'lqer H');
  check(!actMean || actMean.length === cols, `lqer: actMean must have ${cols} entries`);
  checkQuantizer(opts.quantizer, H, 'lqer');
  return runKernel(opts, (ctl) => load().lqer(w, rows, cols, H, actMean, opts, ctl));
}

export interface SymQuantResult {
  codes: Uint8Array;
  scales: Float32Array;
  dequant: Float64Array;
}
/** Synchronous symmetric absmax group quantizer used by FLRQ/LoRC/LQER (test/inspection hook). */
export function quantizeSymAbsmax(
  w: Float64Array,
  rows: number,
  cols: number,
  bits: number,
  groupSize = 128,
  clipSearch = false,
): SymQuantResult {
  checkMatrix(w, rows, cols, 'quantizeSymAbsmax w');
  return load().quantizeSymAbsmax(w, rows, cols, bits, groupSize, clipSearch);
}
