/**
 * JSQ — Guo et al., "Compressing Large Language Models by Joint Sparsification and Quantization"
 * (ICML 2024; authors' code github.com/uanu2002/JSQ). Per group of layers sharing an input:
 *  1. saliency S_ij = |W_ij|·‖X_j‖₂ + ρ·R_ij, R_ij = max_t(y_ti − x̄_tj·W_ij) − min_t(…) with
 *     y = X̄Wᵀ on the positional-mean window X̄ (the authors' `generate_ss`); prune the lowest per row
 *     (N:M within each M columns);
 *  2. activation editor: clip |x| at the threshold τ of a fraction c of the sample's largest |x|,
 *     c searched over a grid (≤ clip_max) by the output error of the whole pipeline on the token sample;
 *  3. SmoothQuant scales from the clipped activation maxima and the pruned weights' column maxima;
 *  4. RTN of the survivors (the kernel below) and static per-tensor activation QDQ over the clipped range.
 * docs/decisions.md "JSQ (issue 15)" lists where this departs from the authors' code.
 */
import type { LayerPlan, SparsityPlan } from '../../protocol/plan';
import type { JsqDetails } from '../../protocol/report';
import * as native from '../../native/ts/index';
import type { InputStatistics } from '../calibrate/inputStatistics';
import type { Kernel, LayerWeight, PreparedDetails } from './kernelTypes';
import { settingsOf } from './methodSettings';
import { sparsityDetails } from './sparseKernels';

/** The clip fractions the editor may try (those ≤ clip_max, plus 0 = no clip). */
export const CLIP_GRID = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05] as const;

/**
 * What the prepare step hands each layer's kernel, by the layer's prepared details (not part of the
 * report): the keep-mask (W's index space; folding does not move it) and, for `pruner: sparsegpt`, the
 * OBS-updated pruned weight in the unfolded space with the group's scale.
 */
export interface JsqPrepared {
  keep: Uint8Array;
  updated?: { weight: Float32Array; scale: Float32Array; original: Float32Array };
}
export const jsqMasks = new WeakMap<PreparedDetails, JsqPrepared>();

/** R_ij (native, float64): the output range of channel i over the T positions of `xbar` (T×cols) with input column j removed. */
export function outputRangeTerm(
  w: Float32Array,
  rows: number,
  cols: number,
  xbar: Float64Array,
  T: number,
  threads = 0,
  signal?: AbortSignal,
): Promise<Float64Array> {
  return native.jsqRangeTerm(w, rows, cols, xbar, T, { threads, signal });
}

/** JSQ's saliency |W_ij|·colNorm_j + ρ·R_ij (colNorm = ‖X_j‖₂ over one window). */
export async function jsqSaliency(
  w: Float32Array,
  rows: number,
  cols: number,
  colNorm: ArrayLike<number>,
  xbar: Float64Array,
  T: number,
  rho: number,
  threads = 0,
  signal?: AbortSignal,
): Promise<Float64Array> {
  const S = rho ? await outputRangeTerm(w, rows, cols, xbar, T, threads, signal) : new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) S[i * cols + j] = Math.abs(w[i * cols + j]) * colNorm[j] + rho * S[i * cols + j];
  return S;
}

/**
 * Keep-mask (1 = kept) pruning the lowest saliencies: exactly ⌊p·cols⌋ per row for a ratio, N of
 * every M consecutive columns per row for N:M; ties go to the lower column index (pruned first).
 */
export function rowMask(score: ArrayLike<number>, rows: number, cols: number, sparsity: SparsityPlan | undefined): Uint8Array {
  const keep = new Uint8Array(rows * cols).fill(1);
  if (!sparsity || ('ratio' in sparsity && sparsity.ratio === 0)) return keep;
  const lowest = (start: number, len: number, k: number) => {
    const idx = Array.from({ length: len }, (_, c) => start + c);
    idx.sort((a, b) => score[a] - score[b] || a - b);
    for (let q = 0; q < k; q++) keep[idx[q]] = 0;
  };
  for (let i = 0; i < rows; i++) {
    if ('ratio' in sparsity) lowest(i * cols, cols, Math.floor(sparsity.ratio * cols));
    else {
      if (cols % sparsity.m !== 0)
        throw new Error(`${sparsity.n}:${sparsity.m} sparsity needs an input width that is a multiple of ${sparsity.m} (got ${cols})`);
      for (let c = 0; c < cols; c += sparsity.m) lowest(i * cols + c, sparsity.m, sparsity.n);
    }
  }
  return keep;
}

/** τ for clip fraction c: the k-th largest |x| of the sample, k = ⌊c·numel⌋ (the authors' `clip_matrix`); null = no clip. */
export function clipThreshold(sortedAbsDesc: Float32Array, fraction: number): number | null {
  const k = Math.floor(fraction * sortedAbsDesc.length);
  return k >= 1 ? sortedAbsDesc[k - 1] : null;
}

/** Symmetric per-tensor fake quantization of v at `bits` over [−range, range] (codes ±(2^(b−1)−1)). */
export function fakeQuantSym(v: number, range: number, bits: number): number {
  const qmax = 2 ** (bits - 1) - 1;
  const step = range / qmax;
  return Math.max(-qmax, Math.min(qmax, Math.round(v / step))) * step;
}

/** One member layer of an input group. */
export interface JsqMember {
  layer: LayerPlan;
  weight: LayerWeight;
}

/** What the prepare step decides for one input group. */
export interface JsqGroupResult {
  /** SmoothQuant scales (x̃ = x/s, W̃ = W·diag s). */
  scale: Float32Array;
  /** Per-channel max |x| after the clip (what scales and the activation range use). */
  clippedAbsMax: Float64Array;
  /** One keep-mask per member (W's index space; folding does not move it). */
  keeps: Uint8Array[];
  /** `pruner: sparsegpt`: each member's OBS-updated pruned weight (unfolded). */
  updated?: Float32Array[];
  details: JsqDetails;
}

/** X·Wᵀ (R×rows, float64) for row-major X (R×n) and W (rows×n). */
function outputs(x: ArrayLike<number>, R: number, n: number, w: ArrayLike<number>, rows: number): Float64Array {
  const y = new Float64Array(R * rows);
  for (let t = 0; t < R; t++)
    for (let i = 0; i < rows; i++) {
      let a = 0;
      for (let j = 0; j < n; j++) a += x[t * n + j] * w[i * n + j];
      y[t * rows + i] = a;
    }
  return y;
}

/**
 * The prepare step of one input group: the mask, the activation editor's search and the scales.
 * @throws Error naming the layer when the input has no token sample (calibration did not collect it)
 */
export async function jsqGroup(members: JsqMember[], input: InputStatistics, threads = 0, signal?: AbortSignal): Promise<JsqGroupResult> {
  const first = members[0].layer;
  const { rho, alpha, activation_bits: actBits, clip_max: clipMax, pruner } = settingsOf(first, 'jsq');
  const sample = input.stats.sample;
  if (!sample || !sample.rowCount)
    throw new Error(
      `layer ${first.name} (jsq): no activation sample was collected for its input '${input.tensor}' (JSQ needs MatMul/Gemm calibration)`,
    );
  const n = input.n;
  const mean = sample.mean();
  const tokens = sample.tokens();
  const H = input.hessian.matrix();
  // ‖X_j‖₂ over one window of T tokens: H_jj = 2·mean(x_j²).
  const colNorm = Float64Array.from({ length: n }, (_, j) => Math.sqrt(Math.max(0, (mean.rows * H[j * n + j]) / 2)));
  const sorted = Float32Array.from(tokens.data, Math.abs).sort().reverse();
  const fractions = [0, ...CLIP_GRID.filter((c) => c <= clipMax + 1e-12)];
  // SparseGPT's mask and update do not depend on the clip: computed once.
  const obs =
    pruner === 'sparsegpt'
      ? await Promise.all(
          members.map(({ layer, weight }) =>
            native.gptq(
              weight.data,
              weight.rows,
              n,
              input.hessian,
              {
                bits: layer.bits,
                groupSize: layer.groupSize,
                symmetric: layer.symmetric,
                damp: 0.01,
                blockSize: 128,
                sparsity: layer.sparsity ?? { ratio: 0 },
                pruneOnly: true,
              },
              { signal, threads },
            ),
          ),
        )
      : undefined;
  // The reference outputs X·Wᵀ of the dense float layers on the sample.
  const ys = members.map(({ weight }) => outputs(tokens.data, tokens.rows, n, weight.data, weight.rows));
  let ref = 0;
  for (const y of ys) for (const v of y) ref += v * v;
  let meanAbsMax = 0;
  for (const v of mean.data) meanAbsMax = Math.max(meanAbsMax, Math.abs(v));
  let lastKeeps: Uint8Array[] | undefined;
  let best: (JsqGroupResult & { error: number }) | undefined;
  const search: JsqDetails['search'] = [];
  for (const fraction of fractions) {
    signal?.throwIfAborted();
    const tau = clipThreshold(sorted, fraction);
    const clip = (v: number) => (tau === null ? v : Math.max(-tau, Math.min(tau, v)));
    const xbar = tau === null ? mean.data : mean.data.map(clip);
    const clippedAbsMax = Float64Array.from(input.stats.absMax, (a) => (tau === null ? a : Math.min(a, tau)));
    // The saliency sees X̄ clipped at τ: unchanged (and the masks with it) while τ clips nothing of X̄.
    const keeps =
      lastKeeps && (tau === null || tau >= meanAbsMax)
        ? lastKeeps
        : await Promise.all(
            members.map(async ({ layer, weight }, m) =>
              obs
                ? (obs[m].keep ?? new Uint8Array(weight.rows * n).fill(1))
                : rowMask(
                    await jsqSaliency(weight.data, weight.rows, weight.cols, colNorm, xbar, mean.rows, rho, threads, signal),
                    weight.rows,
                    weight.cols,
                    layer.sparsity,
                  ),
            ),
          );
    lastKeeps = keeps;
    const pruned = members.map(({ weight }, m) => ({
      w: obs ? Float32Array.from(obs[m].dequant, (v, i) => (keeps[m][i] ? v : 0)) : weight.data.map((v, i) => (keeps[m][i] ? v : 0)),
      rows: weight.rows,
      cols: n,
    }));
    const scale = native.smoothQuantScales(clippedAbsMax, native.columnAbsMax(pruned), alpha);
    let range = 0;
    for (let j = 0; j < n; j++) range = Math.max(range, clippedAbsMax[j] / scale[j]);
    const xq = new Float64Array(tokens.rows * n);
    for (let t = 0; t < tokens.rows; t++)
      for (let j = 0; j < n; j++) {
        const v = clip(tokens.data[t * n + j]) / scale[j];
        xq[t * n + j] = actBits > 0 && range > 0 ? fakeQuantSym(v, range, actBits) : v;
      }
    let err = 0;
    for (let m = 0; m < members.length; m++) {
      const { layer, weight } = members[m];
      const folded = pruned[m].w.map((v, i) => v * scale[i % n]);
      const q = await native.rtn(
        folded,
        weight.rows,
        n,
        { bits: layer.bits, groupSize: layer.groupSize, symmetric: layer.symmetric },
        { signal, threads },
      );
      err += await native.jsqOutputError(q.dequant, weight.rows, n, ys[m], xq, tokens.rows, { threads, signal });
    }
    const error = ref > 0 ? err / ref : 0;
    search.push({ fraction, error: Number(error.toPrecision(6)) });
    if (!best || error < best.error)
      best = {
        scale,
        clippedAbsMax,
        keeps,
        ...(obs ? { updated: pruned.map((p) => p.w) } : {}),
        error,
        details: { rho, alpha, clip_fraction: fraction, clip_threshold: tau, search, sample_tokens: tokens.rows },
      };
  }
  const { error: _unused, ...result } = best!;
  void _unused;
  return result;
}

/**
 * SparseGPT's updated survivors U folded as the kernel's weight is: diag(d)·U·diag(s), where s is
 * this group's input scale and d the output-channel factor a later group's fold put on the rows (e.g.
 * w3 absorbing w2's 1/s), read per row from the entry of largest |W_ij·s_j|.
 */
function foldLike(weight: LayerWeight, u: NonNullable<JsqPrepared['updated']>): Float32Array {
  const { rows, cols, data } = weight;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    let jm = 0;
    for (let j = 1; j < cols; j++)
      if (Math.abs(u.original[i * cols + j] * u.scale[j]) > Math.abs(u.original[i * cols + jm] * u.scale[jm])) jm = j;
    const base = u.original[i * cols + jm] * u.scale[jm];
    const d = base !== 0 ? data[i * cols + jm] / base : 1;
    for (let j = 0; j < cols; j++) out[i * cols + j] = d * u.weight[i * cols + j] * u.scale[j];
  }
  return out;
}

/** The JSQ kernel: RTN of the folded weight's survivors under the mask the prepare step chose. */
export const jsqKernel: Kernel = async (ctx) => {
  const { layer, weight, prepared } = ctx;
  const prep = prepared && jsqMasks.get(prepared);
  if (!prepared?.jsq || !prep || prep.keep.length !== weight.rows * weight.cols)
    throw new Error(
      `layer ${layer.name}: method jsq runs after its prepare step (mask, activation editor, smoothing), which did not run for it`,
    );
  const { keep, updated } = prep;
  const masked = updated ? foldLike(weight, updated) : weight.data.map((v, i) => (keep[i] ? v : 0));
  const q = await native.rtn(
    masked,
    weight.rows,
    weight.cols,
    { bits: layer.bits, groupSize: layer.groupSize, symmetric: layer.symmetric },
    { signal: ctx.signal, threads: ctx.threads },
  );
  const sparse = layer.sparsity && !('ratio' in layer.sparsity && layer.sparsity.ratio === 0);
  return {
    dequant: q.dequant,
    q,
    details: {
      jsq: prepared.jsq,
      ...(prepared.smoothing ? { smoothing: prepared.smoothing } : {}),
      ...(sparse ? { sparsity: sparsityDetails(ctx, keep) } : {}),
    },
  };
};
