/**
 * Activation-aware rescaling searches built on the native RTN and H-weighted error kernels
 * (ALGORITHMS.md §3): AWQ α grid + clip search, SmoothQuant scales, OS+ shift and weight-only scale
 * search. All losses are LAYER-LOCAL: tr(ΔHΔᵀ) against the layer's Hessian H (= 2/N·Σxxᵀ) instead of
 * the reference's module-output MSE (a documented deviation: no attention/MLP sub-graph is run).
 * Scales multiply W's input channels (W·diag(s)); the engine folds 1/s into the producer.
 * The grid is this project's RTN grid (GPTQ-style, 0 always representable) so the result exports to
 * MatMulNBits unchanged, not llm-awq's min-max grid without forced zero.
 */
import { rtn, relativeError, Hessian, type QuantizedWeight, type RtnOptions, type JobControl } from './index';
import { LowbitKernelError } from './addon';

/** AWQ search options. */
export interface AwqOptions extends RtnOptions {
  /** α grid size n: α = i/n for i = 0..n−1 (default 20). */
  grid?: number;
  /** Run the clip search after the scale search (default true). */
  clipSearch?: boolean;
  /** Clip ratios 1 − i/20 for i = 0..clipSteps−1 (default 10, i.e. 1.00 down to 0.55). */
  clipSteps?: number;
}

/** AWQ result. `quantized` is Q(W·diag(s)) with the chosen per-group clip applied. */
export interface AwqResult {
  alpha: number;
  /** Per input channel s (length cols). */
  scales: Float32Array;
  /** Per row-group clip ratio (rows × numGroups; 1 = unclipped). */
  clipRatios: Float32Array;
  quantized: QuantizedWeight;
  /** Relative error tr(ΔHΔᵀ)/tr(WHWᵀ) of Ŵ = Q(W·s)/s: for every α tried, at the best α, and final (after clip). */
  lossByAlpha: number[];
  loss: number;
  lossAlpha0: number;
}

function hm(H: Float64Array | Hessian): Float64Array {
  return H instanceof Hessian ? H.matrix() : H;
}

function scaleColumns(w: Float32Array, rows: number, cols: number, s: ArrayLike<number>, inverse: boolean): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = inverse ? w[r * cols + c]! / s[c]! : w[r * cols + c]! * s[c]!;
  return out;
}

/** AWQ scale s(α) = max(x̄^α, 1e-4) / sqrt(max s · min s) (auto_scale.py). α = 0 gives s = 1. */
export function awqScales(actMean: Float32Array, alpha: number): Float32Array {
  const s = new Float32Array(actMean.length);
  let mx = -Infinity, mn = Infinity;
  for (let j = 0; j < s.length; j++) {
    const v = Math.max(Math.pow(actMean[j]!, alpha), 1e-4);
    s[j] = v;
    mx = Math.max(mx, v);
    mn = Math.min(mn, v);
  }
  const norm = Math.sqrt(mx * mn);
  for (let j = 0; j < s.length; j++) s[j] = s[j]! / norm;
  return s;
}

/**
 * AWQ (ALGORITHMS.md §3a) for one linear: α grid search with loss tr(ΔHΔᵀ), then (optionally) a per
 * row-group clip search whose loss is δ·H′_gg·δᵀ on the group's diagonal block of the rescaled
 * Hessian H′ = diag(1/s)·H·diag(1/s). Keeps strictly better candidates only, so α = 0 (= RTN) and
 * clip ratio 1 win ties.
 */
export async function awqSearch(w: Float32Array, rows: number, cols: number, actMean: Float32Array, H: Float64Array | Hessian, opts: AwqOptions, ctl?: JobControl): Promise<AwqResult> {
  if (actMean.length !== cols) throw new LowbitKernelError(`awqSearch: actMean has ${actMean.length} channels, expected ${cols}`, 'E_SHAPE');
  for (let j = 0; j < cols; j++) if (!(actMean[j]! >= 0) || !Number.isFinite(actMean[j]!)) throw new LowbitKernelError(`awqSearch: actMean[${j}] = ${actMean[j]} is not a finite non-negative number`, 'E_NUMERIC');
  const h = hm(H);
  const grid = opts.grid ?? 20;
  const rtnOpts: RtnOptions = { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric, mseClip: opts.mseClip };
  const lossByAlpha: number[] = [];
  let best: { alpha: number; loss: number; s: Float32Array; q: QuantizedWeight | undefined } = { alpha: 0, loss: Infinity, s: new Float32Array(cols).fill(1), q: undefined };
  const total = grid + (opts.clipSearch === false ? 0 : 1);
  for (let i = 0; i < grid; i++) {
    if (ctl?.signal?.aborted) throw new LowbitKernelError('awqSearch: cancelled', 'E_CANCELLED');
    const alpha = i / grid;
    const s = awqScales(actMean, alpha);
    const q = await rtn(scaleColumns(w, rows, cols, s, false), rows, cols, rtnOpts, { signal: ctl?.signal, threads: ctl?.threads });
    const loss = relativeError(w, scaleColumns(q.dequant, rows, cols, s, true), rows, cols, h, ctl?.threads ?? 0);
    lossByAlpha.push(loss);
    if (loss < best.loss) best = { alpha, loss, s, q };
    ctl?.onProgress?.(i + 1, total);
  }
  const lossAlpha0 = lossByAlpha[0]!;
  let quantized = best.q!;
  const g = quantized.groupSize, ng = Math.ceil(cols / g);
  const clipRatios = new Float32Array(rows * ng).fill(1);
  let loss = best.loss;
  if (opts.clipSearch !== false) {
    const ws = scaleColumns(w, rows, cols, best.s, false);
    const steps = opts.clipSteps ?? 10;
    const bestErr = new Float64Array(rows * ng).fill(Infinity);
    const out: QuantizedWeight = { ...quantized, codes: quantized.codes.slice(), scales: quantized.scales.slice(), zeros: quantized.zeros.slice(), dequant: quantized.dequant.slice() };
    const m0 = new Float64Array(rows * ng);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) { const k = r * ng + Math.floor(c / g); m0[k] = Math.max(m0[k]!, Math.abs(ws[r * cols + c]!)); }
    for (let i = 0; i < steps; i++) {
      if (ctl?.signal?.aborted) throw new LowbitKernelError('awqSearch: cancelled', 'E_CANCELLED');
      const ratio = 1 - i / 20;
      const clipped = new Float32Array(ws.length);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
        const mv = ratio * m0[r * ng + Math.floor(c / g)]!;
        clipped[r * cols + c] = Math.min(mv, Math.max(-mv, ws[r * cols + c]!));
      }
      const q = i === 0 ? quantized : await rtn(clipped, rows, cols, rtnOpts, { signal: ctl?.signal, threads: ctl?.threads });
      for (let r = 0; r < rows; r++) for (let k = 0; k < ng; k++) {
        const c0 = k * g, c1 = Math.min(cols, c0 + g);
        let err = 0;
        for (let a = c0; a < c1; a++) {
          const da = (ws[r * cols + a]! - q.dequant[r * cols + a]!) / best.s[a]!;
          let v = 0;
          for (let b = c0; b < c1; b++) v += h[a * cols + b]! * ((ws[r * cols + b]! - q.dequant[r * cols + b]!) / best.s[b]!);
          err += da * v;
        }
        const key = r * ng + k;
        if (err < bestErr[key]!) {
          bestErr[key] = err;
          clipRatios[key] = ratio;
          out.scales[key] = q.scales[key]!;
          out.zeros[key] = q.zeros[key]!;
          out.codes.set(q.codes.subarray(r * cols + c0, r * cols + c1), r * cols + c0);
          out.dequant.set(q.dequant.subarray(r * cols + c0, r * cols + c1), r * cols + c0);
        }
      }
    }
    quantized = out;
    loss = relativeError(w, scaleColumns(out.dequant, rows, cols, best.s, true), rows, cols, h, ctl?.threads ?? 0);
    ctl?.onProgress?.(total, total);
  }
  return { alpha: best.alpha, scales: best.s, clipRatios, quantized, lossByAlpha, loss, lossAlpha0 };
}

/** Per input channel max_i |W_ij| of a rows × cols weight (SmoothQuant's weight statistic). */
export function channelAbsMax(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c] = Math.max(out[c]!, Math.abs(w[r * cols + c]!));
  return out;
}

/** SmoothQuant (§3b): s_j = max(actAbsMax_j^α / max(weightAbsMax_j, 1e-5)^(1−α), 1e-5); weightAbsMax is
 *  the max over all consumer linears of {@link channelAbsMax}. */
export function smoothQuantScales(actAbsMax: Float32Array, weightAbsMax: Float32Array, alpha = 0.5): Float32Array {
  if (actAbsMax.length !== weightAbsMax.length) throw new LowbitKernelError('smoothQuantScales: channel counts differ', 'E_SHAPE');
  const s = new Float32Array(actAbsMax.length);
  for (let j = 0; j < s.length; j++) s[j] = Math.max(Math.pow(actAbsMax[j]!, alpha) / Math.pow(Math.max(weightAbsMax[j]!, 1e-5), 1 - alpha), 1e-5);
  return s;
}

/** OS+ shift (§3c): z_j = (max_t x_tj + min_t x_tj)/2; x̃ = x − z, with W·z folded into the consumer bias. */
export function osplusShift(actMax: Float32Array, actMin: Float32Array): Float32Array {
  const z = new Float32Array(actMax.length);
  for (let j = 0; j < z.length; j++) z[j] = (actMax[j]! + actMin[j]!) / 2;
  return z;
}

/** OS+ weight-only scale search result. */
export interface OsplusResult { threshold: number; scales: Float32Array; quantized: QuantizedWeight; loss: number; lossUnscaled: number }

/**
 * OS+ scale search (§3c) with Q_a = identity: thresholds t from amax = max(−min x̃, max x̃) down to 1 in
 * num = max(100, ⌊amax/0.5⌋) steps (or `steps`), s_j(t) = max(1, cmx_j/t, cmn_j/(−t)) ≥ 1; loss
 * tr(ΔHΔᵀ) of Ŵ = Q(W·s)/s (layer-local). cmx/cmn are the per-channel max/min of the shifted x̃.
 */
export async function osplusScales(w: Float32Array, rows: number, cols: number, cmx: Float32Array, cmn: Float32Array, H: Float64Array | Hessian, opts: RtnOptions & { steps?: number }, ctl?: JobControl): Promise<OsplusResult> {
  if (cmx.length !== cols || cmn.length !== cols) throw new LowbitKernelError(`osplusScales: activation statistics must have ${cols} channels`, 'E_SHAPE');
  const h = hm(H);
  let amax = 0;
  for (let j = 0; j < cols; j++) amax = Math.max(amax, cmx[j]!, -cmn[j]!);
  const num = opts.steps ?? Math.max(100, Math.floor(amax / 0.5));
  const rtnOpts: RtnOptions = { bits: opts.bits, groupSize: opts.groupSize, symmetric: opts.symmetric, mseClip: opts.mseClip };
  let best: OsplusResult | undefined;
  for (let i = 0; i < num; i++) {
    if (ctl?.signal?.aborted) throw new LowbitKernelError('osplusScales: cancelled', 'E_CANCELLED');
    const t = amax <= 1 ? 1 : amax - ((amax - 1) * i) / Math.max(1, num - 1);
    const s = new Float32Array(cols);
    for (let j = 0; j < cols; j++) s[j] = Math.max(1, cmx[j]! / t, cmn[j]! / -t);
    const q = await rtn(scaleColumns(w, rows, cols, s, false), rows, cols, rtnOpts, { signal: ctl?.signal, threads: ctl?.threads });
    const loss = relativeError(w, scaleColumns(q.dequant, rows, cols, s, true), rows, cols, h, ctl?.threads ?? 0);
    if (!best) best = { threshold: t, scales: s, quantized: q, loss, lossUnscaled: loss };
    else if (loss < best.loss) best = { ...best, threshold: t, scales: s, quantized: q, loss };
    ctl?.onProgress?.(i + 1, num);
  }
  return best!;
}
