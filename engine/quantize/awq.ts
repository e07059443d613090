/**
 * AWQ (docs/algorithms.md §3a) scale search for one group of layers sharing an input: α = i/n (i = 0..n−1),
 * s = max(x̄^α, 1e-4)/sqrt(max s · min s), loss Σ tr(ΔHΔᵀ) over the group (layer-local deviation from
 * the reference's module-output MSE). Strictly-better α is kept, so α = 0 (s = 1, plain RTN) wins ties.
 */
import { awqScales } from '../../native/ts/index';
import { groupLoss, type GroupMember } from './groupLoss';

/** The chosen scale of a group. */
export interface AwqGroupResult {
  alpha: number;
  scale: Float32Array;
  loss: number;
  lossAlpha0: number;
  lossByAlpha: number[];
}

/**
 * Searches α for one group. `actMean` is x̄ (mean |x| per input channel), `H` the group input's Hessian.
 * @throws Error naming the group's layers when x̄ holds a non-finite or negative value
 */
export async function awqGroupSearch(
  members: GroupMember[],
  actMean: Float32Array,
  H: Float64Array,
  nGrid: number,
  threads = 0,
  signal?: AbortSignal,
): Promise<AwqGroupResult> {
  const names = members.map((m) => m.name).join(', ');
  for (let j = 0; j < actMean.length; j++) {
    if (!(actMean[j] >= 0) || !Number.isFinite(actMean[j]))
      throw new Error(`awq: layers ${names}: mean |x|[${j}] = ${actMean[j]} is not a finite non-negative number`);
  }
  if (!Number.isInteger(nGrid) || nGrid < 1) throw new Error(`awq: layers ${names}: n_grid must be a positive integer (got ${nGrid})`);
  const lossByAlpha: number[] = [];
  let best: { alpha: number; scale: Float32Array; loss: number } | undefined;
  for (let i = 0; i < nGrid; i++) {
    signal?.throwIfAborted();
    const alpha = i / nGrid;
    const scale = Float32Array.from(awqScales(actMean, alpha));
    const loss = await groupLoss(members, H, scale, threads, signal);
    lossByAlpha.push(loss);
    if (!best || loss < best.loss) best = { alpha, scale, loss };
  }
  return { ...best!, lossAlpha0: lossByAlpha[0], lossByAlpha };
}
