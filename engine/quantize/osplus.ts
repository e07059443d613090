/**
 * OS+ (docs/algorithms.md §3c) for one group of layers sharing an input: optional shift z = (max+min)/2 and
 * a threshold search t from amax = max(−min x̃, max x̃) down to 1 in max(steps, ⌊amax/0.5⌋) steps,
 * s_j(t) = max(1, cmx_j/t, cmn_j/(−t)) ≥ 1. Weight-only (Q_a = identity) with the layer-local loss
 * Σ tr(ΔHΔᵀ) over the group. The first candidate (t = amax) is s = 1, so loss(best) ≤ loss(no scaling).
 */
import { groupLoss, type GroupMember } from './groupLoss';

/** The chosen transform of a group. */
export interface OsplusGroupResult {
  threshold: number;
  scale: Float32Array;
  shift?: Float32Array;
  loss: number;
  lossUnscaled: number;
  steps: number;
}

/** Per-channel midpoint z_j = (max_j + min_j)/2. */
export function osplusShiftOf(max: ArrayLike<number>, min: ArrayLike<number>): Float32Array {
  return Float32Array.from({ length: max.length }, (_, j) => (max[j] + min[j]) / 2);
}

/**
 * Searches the threshold for one group. `max`/`min` are the per-channel activation extremes of x
 * (before the shift). Note: the loss uses H of x also when shifting (ChannelStats holds no signed
 * mean, so H of x − z cannot be formed); the shift only matters for activation quantization.
 */
export async function osplusGroupSearch(
  members: GroupMember[],
  max: ArrayLike<number>,
  min: ArrayLike<number>,
  H: Float64Array,
  opts: { shift: boolean; steps: number },
  threads = 0,
  signal?: AbortSignal,
): Promise<OsplusGroupResult> {
  const n = max.length;
  const shift = opts.shift ? osplusShiftOf(max, min) : undefined;
  const cmx = new Float64Array(n),
    cmn = new Float64Array(n);
  let amax = 0;
  for (let j = 0; j < n; j++) {
    const z = shift ? shift[j] : 0;
    cmx[j] = max[j] - z;
    cmn[j] = min[j] - z;
    if (!Number.isFinite(cmx[j]) || !Number.isFinite(cmn[j]))
      throw new Error(`osplus: layers ${members.map((m) => m.name).join(', ')}: channel ${j} has no finite activation range`);
    amax = Math.max(amax, cmx[j], -cmn[j]);
  }
  const steps = Math.max(opts.steps, Math.floor(amax / 0.5));
  let best: OsplusGroupResult | undefined;
  for (let i = 0; i < steps; i++) {
    signal?.throwIfAborted();
    const t = amax <= 1 ? 1 : amax - ((amax - 1) * i) / Math.max(1, steps - 1);
    const s = new Float32Array(n);
    for (let j = 0; j < n; j++) s[j] = Math.max(1, cmx[j] / t, cmn[j] / -t);
    if (best && s.every((v, j) => v === best!.scale[j])) continue; // same candidate as the best: skip the work
    const loss = await groupLoss(members, H, s, threads, signal);
    if (!best) best = { threshold: t, scale: s, shift, loss, lossUnscaled: loss, steps };
    else if (loss < best.loss) best = { ...best, threshold: t, scale: s, loss };
    if (amax <= 1) break;
  }
  return best!;
}
