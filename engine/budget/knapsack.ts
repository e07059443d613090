/**
 * Multiple-choice knapsack: pick one option per item so that the summed cost fits the capacity and
 * the summed loss is smallest. Dynamic programming over the capacity in integer units.
 *
 * With unit 1 (costs are integer bytes) the answer is exact. When the table would be too large the
 * capacity is counted in coarser units and every cost is rounded UP to whole units: the answer then
 * still fits (rounding only over-counts), and its loss is at most the exact optimum at capacity
 * `capacity − items·(unit−1)` (each item's cost is over-counted by less than one unit) — the bound
 * the result reports as `boundCapacity`.
 */

export interface KnapsackItem {
  /** Cost of each option (≥ 0; integers when exactness matters). */
  cost: number[];
  /** Loss of each option. */
  loss: number[];
}

export interface KnapsackResult {
  /** Chosen option per item; undefined when nothing fits. */
  choice?: number[];
  loss: number;
  cost: number;
  unit: number;
  exact: boolean;
  /** The capacity whose exact optimum the returned loss is guaranteed not to exceed. */
  boundCapacity: number;
  /** Pareto frontier: min loss for each capacity in units (index j = capacity j·unit), monotone. */
  frontier: Float64Array;
  /** The optimal choice at capacity `j` units (any point of the frontier); undefined when nothing fits. */
  choiceAt(j: number): number[] | undefined;
}

/** Largest DP table (items × capacity units) before the capacity is coarsened. */
export const MAX_KNAPSACK_CELLS = 40_000_000;

/**
 * Solves the knapsack. Ties break toward the lower cost, then the lower option index, so the result
 * is deterministic.
 */
export function solveKnapsack(items: KnapsackItem[], capacity: number, maxCells = MAX_KNAPSACK_CELLS): KnapsackResult {
  const n = items.length;
  for (const [i, it] of items.entries()) {
    if (it.cost.length !== it.loss.length || !it.cost.length)
      throw new Error(`knapsack item ${i}: ${it.cost.length} costs for ${it.loss.length} losses`);
    for (const c of it.cost)
      if (!(c >= 0) || !Number.isFinite(c)) throw new Error(`knapsack item ${i}: cost ${c} is not a finite number ≥ 0`);
    for (const l of it.loss) if (Number.isNaN(l)) throw new Error(`knapsack item ${i}: a loss is NaN`);
  }
  const cap = Math.max(0, Math.floor(capacity));
  const unit = Math.max(1, Math.ceil(((n || 1) * (cap + 1)) / maxCells));
  const C = Math.floor(cap / unit);
  const units = items.map((it) => it.cost.map((c) => Math.ceil(c / unit)));
  const exact = unit === 1 && items.every((it) => it.cost.every(Number.isInteger));
  // prev[j] = min loss of the items so far with total units ≤ j.
  let prev = new Float64Array(C + 1); // zero items: loss 0 at every capacity
  const pick: Int16Array[] = [];
  for (let i = 0; i < n; i++) {
    const cur = new Float64Array(C + 1).fill(Infinity);
    const p = new Int16Array(C + 1).fill(-1);
    const { loss } = items[i];
    const u = units[i];
    for (let j = 0; j <= C; j++) {
      let best = Infinity,
        bestK = -1;
      for (let k = 0; k < u.length; k++) {
        if (u[k] > j) continue;
        const v = prev[j - u[k]] + loss[k];
        if (v < best || (v === best && bestK >= 0 && u[k] < u[bestK])) {
          best = v;
          bestK = k;
        }
      }
      cur[j] = best;
      p[j] = bestK;
    }
    pick.push(p);
    prev = cur;
  }
  const boundCapacity = Math.max(0, cap - n * (unit - 1));
  const frontier = prev;
  const choiceAt = (at: number): number[] | undefined => {
    let j = Math.min(C, Math.max(0, Math.floor(at)));
    if (!Number.isFinite(frontier[j])) return undefined;
    const choice = new Array<number>(n);
    for (let i = n - 1; i >= 0; i--) {
      const k = pick[i][j];
      choice[i] = k;
      j -= units[i][k];
    }
    return choice;
  };
  const choice = choiceAt(C);
  if (!choice) return { loss: Infinity, cost: 0, unit, exact, boundCapacity, frontier, choiceAt };
  const cost = choice.reduce((s, k, i) => s + items[i].cost[k], 0);
  return { choice, loss: prev[C], cost, unit, exact, boundCapacity, frontier, choiceAt };
}
