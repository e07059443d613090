/**
 * Activation-aware rescaling kernels (docs/algorithms.md §3): AWQ scale + clip search, SmoothQuant scales
 * and OS+ weight-only scale/shift search. The expensive scoring runs in the native addon
 * (`scaleSearch`, `clipSearch`); candidate scale vectors are built here.
 *
 * Documented deviations from the references:
 * - Loss is layer-local, tr(ΔHΔᵀ) against the layer's Hessian H = (2/N)Σ x xᵀ with
 *   Δ = W − Q(W·diag s)·diag(s)⁻¹, instead of the MSE of the inspected module's output.
 * - The grid is the project's RTN grid (min-max containing 0, GPTQ-style symmetric), so a candidate
 *   s = 1 (AWQ α = 0) reproduces {@link rtn} exactly.
 * The engine multiplies W's columns by s (the returned `weight` is already the quantized W·diag s,
 * clipped) and folds 1/s into the producer (norm γ/β or the previous linear's rows).
 * Inputs are read in place (zero-copy) while a search runs: do not mutate `w`, `H` until it settles.
 */
import { LowbitKernelError, loadAddon } from './addon';
import type { QuantizedWeight } from './quantizedWeight';
import { type JobControl, type NativeJobControl, runNativeJob } from './job';

interface ScalingAddon {
  scaleSearch(
    w: Float32Array,
    rows: number,
    cols: number,
    H: Float64Array,
    cand: Float64Array,
    k: number,
    opts: object,
    ctl: NativeJobControl,
  ): Promise<{ best: number; losses: Float64Array }>;
  clipSearch(
    w: Float32Array,
    rows: number,
    cols: number,
    H: Float64Array,
    opts: object,
    ctl: NativeJobControl,
  ): Promise<{ clipRatios: Float32Array; weight: QuantizedWeight }>;
}

function native(): ScalingAddon {
  return loadAddon<ScalingAddon>('scaleSearch');
}

function fail(msg: string, code = 'E_ARG'): never {
  throw new LowbitKernelError(msg, code);
}
function checkLen(a: { length: number }, n: number, what: string): void {
  if (a.length !== n) fail(`${what}: expected length ${n}, got ${a.length}`, 'E_SHAPE');
}
function checkFinite(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) fail(`${what}: not finite at index ${i}`, 'E_NUMERIC');
}
function checkLayer(w: Float32Array, rows: number, cols: number, H: Float64Array, o: ScaleOptions, what: string): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) fail(`${what}: bad shape ${rows}x${cols}`, 'E_SHAPE');
  checkLen(w, rows * cols, `${what}: w`);
  checkLen(H, cols * cols, `${what}: H`);
  if (!Number.isInteger(o.bits) || o.bits < 1 || o.bits > 8) fail(`${what}: bits must be an integer in 1..8, got ${o.bits}`);
  if (!(o.groupSize === -1 || (Number.isInteger(o.groupSize) && o.groupSize > 0)))
    fail(`${what}: groupSize must be -1 or a positive integer, got ${o.groupSize}`);
}

/** Grid settings shared by the searches (the RTN grid of docs/algorithms.md §1). */
export interface ScaleOptions {
  bits: number;
  groupSize: number;
  symmetric: boolean;
}

/** Scores k candidate column-scale vectors (k×cols, row-major) by tr(ΔHΔᵀ); returns the first best. */
export async function scaleSearch(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array,
  candidates: Float64Array,
  opts: ScaleOptions,
  ctl?: JobControl,
): Promise<{ best: number; losses: Float64Array }> {
  checkLayer(w, rows, cols, H, opts, 'scaleSearch');
  const k = candidates.length / cols;
  if (!Number.isInteger(k) || k < 1)
    fail(`scaleSearch: candidates length ${candidates.length} is not a positive multiple of cols ${cols}`, 'E_SHAPE');
  return runNativeJob('scaleSearch', ctl, (c) => native().scaleSearch(w, rows, cols, H, candidates, k, opts, c));
}

/** Multiplies W's columns by s (W·diag s) in fp32. */
export function scaleColumns(w: Float32Array, rows: number, cols: number, s: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[r * cols + j] = w[r * cols + j]! * s[j]!;
  return out;
}

/** Hessian of x/s: diag(1/s)·H·diag(1/s). */
export function scaleHessian(H: Float64Array, s: ArrayLike<number>): Float64Array {
  const n = s.length,
    out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = H[i * n + j]! / (s[i]! * s[j]!);
  return out;
}

/** AWQ options: α grid size (default 20, α = i/grid) and the clip search (default on, 10 steps). */
export interface AwqOptions extends ScaleOptions {
  grid?: number;
  clip?: boolean;
  clipSteps?: number;
}
/** AWQ result: best α, per-column scales s, per-α losses, per row-group clip ratios, quantized W·diag s. */
export interface AwqResult {
  alpha: number;
  scales: Float32Array;
  losses: Float64Array;
  clipRatios: Float32Array;
  weight: QuantizedWeight;
}

/** AWQ candidate scales for α: s = max(x̄^α, 1e-4), s /= sqrt(max s · min s) (auto_scale.py). */
export function awqScales(xbar: ArrayLike<number>, alpha: number): Float64Array {
  const s = new Float64Array(xbar.length);
  let mx = -Infinity,
    mn = Infinity;
  for (let j = 0; j < s.length; j++) {
    s[j] = Math.max(Math.pow(xbar[j]!, alpha), 1e-4);
    mx = Math.max(mx, s[j]!);
    mn = Math.min(mn, s[j]!);
  }
  const norm = Math.sqrt(mx * mn);
  for (let j = 0; j < s.length; j++) s[j] = s[j]! / norm;
  return s;
}

/** AWQ (docs/algorithms.md §3a) for one linear: α grid search with the layer-local loss, then the clip
 *  search on W·diag s against diag(1/s)·H·diag(1/s). xbar = per-channel mean |x| (from the engine). */
export async function awqSearch(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array,
  xbar: Float32Array | Float64Array,
  opts: AwqOptions,
  ctl?: JobControl,
): Promise<AwqResult> {
  checkLayer(w, rows, cols, H, opts, 'awqSearch');
  checkLen(xbar, cols, 'awqSearch: xbar');
  checkFinite(xbar, 'awqSearch: xbar');
  for (let j = 0; j < cols; j++)
    if (xbar[j]! < 0) fail(`awqSearch: xbar must be ≥ 0 (mean |x|), got ${xbar[j]} at channel ${j}`, 'E_NUMERIC');
  const grid = opts.grid ?? 20;
  if (!Number.isInteger(grid) || grid < 1) fail(`awqSearch: grid must be a positive integer, got ${grid}`);
  const cand = new Float64Array(grid * cols);
  for (let i = 0; i < grid; i++) cand.set(awqScales(xbar, i / grid), i * cols);
  const grid0 = { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric };
  const { best, losses } = await scaleSearch(w, rows, cols, H, cand, grid0, ctl);
  const s = cand.subarray(best * cols, (best + 1) * cols);
  const ws = scaleColumns(w, rows, cols, s),
    hs = scaleHessian(H, s);
  const steps = opts.clip === false ? 1 : (opts.clipSteps ?? 10);
  const clipCtl = { signal: ctl?.signal, threads: ctl?.threads }; // progress covers the α search only
  const clip = await runNativeJob('awqSearch clip', clipCtl, (c) => native().clipSearch(ws, rows, cols, hs, { ...grid0, steps }, c));
  return { alpha: best / grid, scales: Float32Array.from(s), losses, clipRatios: clip.clipRatios, weight: clip.weight };
}

/** SmoothQuant (§3b): s_j = max|X_j|^α / max(wmax_j, 1e-5)^{1−α}, clamped to ≥ 1e-5, where wmax_j is
 *  the max |W_ij| over all consumer linears (see {@link columnAbsMax}). */
export function smoothQuantScales(actAbsMax: ArrayLike<number>, weightAbsMax: ArrayLike<number>, alpha = 0.5): Float32Array {
  checkLen(weightAbsMax, actAbsMax.length, 'smoothQuantScales: weightAbsMax');
  checkFinite(actAbsMax, 'smoothQuantScales: actAbsMax');
  checkFinite(weightAbsMax, 'smoothQuantScales: weightAbsMax');
  if (!(alpha >= 0 && alpha <= 1)) fail(`smoothQuantScales: alpha must be in [0, 1], got ${alpha}`);
  const s = new Float32Array(actAbsMax.length);
  for (let j = 0; j < s.length; j++) {
    s[j] = Math.max(Math.pow(Math.abs(actAbsMax[j]!), alpha) / Math.pow(Math.max(weightAbsMax[j]!, 1e-5), 1 - alpha), 1e-5);
  }
  return s;
}

/** Per-input-column max |W_ij| of W (rows×cols, out×in), combined over several consumers by max. */
export function columnAbsMax(ws: { w: Float32Array; rows: number; cols: number }[]): Float32Array {
  const cols = ws[0]?.cols ?? 0,
    out = new Float32Array(cols);
  for (const { w, rows, cols: c } of ws) {
    if (c !== cols) fail(`columnAbsMax: consumers disagree on the input size (${c} vs ${cols})`, 'E_SHAPE');
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[j] = Math.max(out[j]!, Math.abs(w[r * cols + j]!));
  }
  return out;
}

/** Hessian of x − z from H = (2/N)Σ x xᵀ and the input mean μ: H − 2(μzᵀ + zμᵀ) + 2zzᵀ. */
export function shiftHessian(H: Float64Array, mean: ArrayLike<number>, z: ArrayLike<number>): Float64Array {
  const n = z.length,
    out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      out[i * n + j] = H[i * n + j]! - 2 * (mean[i]! * z[j]! + z[i]! * mean[j]!) + 2 * z[i]! * z[j]!;
    }
  return out;
}

/** OS+ options: shift on/off (needs the input mean to shift H), at least `minSteps` thresholds (100). */
export interface OsPlusOptions extends ScaleOptions {
  shift?: boolean;
  mean?: ArrayLike<number>;
  minSteps?: number;
}
/** OS+ result: shift z (zeros when off; fold W·z into the bias), scales s ≥ 1, chosen threshold t. */
export interface OsPlusResult {
  shift: Float32Array;
  scales: Float32Array;
  threshold: number;
  thresholds: Float64Array;
  losses: Float64Array;
}

/** OS+ weight-only (§3c; Q_a = identity): shift z = (max+min)/2, thresholds t from amax down to 1 in
 *  max(minSteps, ⌊amax/0.5⌋) steps, s_j(t) = max(1, cmx_j/t, cmn_j/(−t)); best t by tr(ΔH̃Δᵀ) with H̃
 *  the Hessian of x − z. With shift, pass `mean` (per-channel mean of x) so H̃ can be formed. */
export async function osplusScales(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array,
  xmax: ArrayLike<number>,
  xmin: ArrayLike<number>,
  opts: OsPlusOptions,
  ctl?: JobControl,
): Promise<OsPlusResult> {
  checkLayer(w, rows, cols, H, opts, 'osplusScales');
  checkLen(xmax, cols, 'osplusScales: xmax');
  checkLen(xmin, cols, 'osplusScales: xmin');
  checkFinite(xmax, 'osplusScales: xmax');
  checkFinite(xmin, 'osplusScales: xmin');
  const shiftOn = opts.shift ?? false;
  if (shiftOn) {
    if (!opts.mean) fail('osplusScales: shift needs opts.mean (per-channel input mean)');
    checkLen(opts.mean, cols, 'osplusScales: mean');
  }
  const z = new Float64Array(cols),
    cmx = new Float64Array(cols),
    cmn = new Float64Array(cols);
  let amax = 0;
  for (let j = 0; j < cols; j++) {
    if (xmin[j]! > xmax[j]!) fail(`osplusScales: xmin > xmax at channel ${j}`, 'E_NUMERIC');
    z[j] = shiftOn ? (xmax[j]! + xmin[j]!) / 2 : 0;
    cmx[j] = xmax[j]! - z[j]!;
    cmn[j] = xmin[j]! - z[j]!;
    amax = Math.max(amax, cmx[j]!, -cmn[j]!);
  }
  const num = Math.max(opts.minSteps ?? 100, Math.floor(amax / 0.5));
  const ts = amax > 1 ? Float64Array.from({ length: num }, (_, i) => amax - (i * (amax - 1)) / (num - 1)) : Float64Array.of(1);
  const cand = new Float64Array(ts.length * cols);
  ts.forEach((t, i) => {
    for (let j = 0; j < cols; j++) cand[i * cols + j] = Math.max(1, cmx[j]! / t, cmn[j]! / -t);
  });
  const h = shiftOn ? shiftHessian(H, opts.mean!, z) : H;
  const { best, losses } = await scaleSearch(
    w,
    rows,
    cols,
    h,
    cand,
    { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric },
    ctl,
  );
  return {
    shift: Float32Array.from(z),
    scales: Float32Array.from(cand.subarray(best * cols, (best + 1) * cols)),
    threshold: ts[best]!,
    thresholds: ts,
    losses,
  };
}
