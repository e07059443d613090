import { test } from 'node:test';
import assert from 'node:assert/strict';
import { solveKnapsack, type KnapsackItem } from '../../../../engine/budget/knapsack';
import { lcg } from '../../../fixtures/lcg';

/** Every combination, for the reference optimum. */
function bruteForce(items: KnapsackItem[], cap: number): number {
  let best = Infinity;
  const walk = (i: number, cost: number, loss: number) => {
    if (cost > cap) return;
    if (i === items.length) {
      best = Math.min(best, loss);
      return;
    }
    items[i].cost.forEach((c, k) => walk(i + 1, cost + c, loss + items[i].loss[k]));
  };
  walk(0, 0, 0);
  return best;
}

function randomItems(seed: number, n: number, k: number): KnapsackItem[] {
  const r = lcg(seed);
  return Array.from({ length: n }, () => {
    const cost = Array.from({ length: k }, () => 1 + Math.floor(r() * 40));
    // Loss falls with cost on average but not monotonically: a greedy sort can miss the optimum.
    return { cost, loss: cost.map((c) => 100 / c + r() * 5) };
  });
}

test('exact at byte granularity: equals the brute-force optimum on random instances', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const items = randomItems(seed, 5, 4);
    const total = items.reduce((s, it) => s + Math.max(...it.cost), 0);
    const cap = Math.floor(total * (0.3 + (seed % 5) / 10));
    const r = solveKnapsack(items, cap);
    const want = bruteForce(items, cap);
    if (!Number.isFinite(want)) {
      assert.equal(r.choice, undefined);
      continue;
    }
    assert.ok(r.exact);
    assert.ok(Math.abs(r.loss - want) < 1e-9, `seed ${seed}: ${r.loss} vs ${want}`);
    const cost = r.choice!.reduce((s, k, i) => s + items[i].cost[k], 0);
    const loss = r.choice!.reduce((s, k, i) => s + items[i].loss[k], 0);
    assert.ok(cost <= cap);
    assert.equal(cost, r.cost);
    assert.ok(Math.abs(loss - r.loss) < 1e-9);
  }
});

test('beats a greedy sort where greedy is suboptimal', () => {
  // Greedy by loss-per-byte upgrades item 0 first and then cannot afford item 1's big win.
  const items: KnapsackItem[] = [
    { cost: [1, 3], loss: [10, 4] },
    { cost: [1, 5], loss: [20, 0] },
  ];
  const r = solveKnapsack(items, 6);
  assert.deepEqual(r.choice, [0, 1]);
  assert.equal(r.loss, 10);
});

test('coarse units: still fits, and no worse than the exact optimum at the reported bound', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const items = randomItems(seed + 100, 6, 3).map((it) => ({ ...it, cost: it.cost.map((c) => c * 37 + 5) }));
    const cap = Math.floor(items.reduce((s, it) => s + Math.min(...it.cost) + Math.max(...it.cost), 0) / 2);
    const r = solveKnapsack(items, cap, 600); // forces unit > 1
    assert.ok(r.unit > 1 && !r.exact);
    const cost = r.choice!.reduce((s, k, i) => s + items[i].cost[k], 0);
    assert.ok(cost <= cap, `seed ${seed}: cost ${cost} > ${cap}`);
    assert.ok(r.loss <= bruteForce(items, r.boundCapacity) + 1e-9);
    assert.ok(r.loss >= bruteForce(items, cap) - 1e-9);
  }
});

test('the frontier is the optimum at every capacity and never rises', () => {
  const items = randomItems(7, 4, 3);
  const r = solveKnapsack(items, 80);
  for (let j = 1; j < r.frontier.length; j++) assert.ok(r.frontier[j] <= r.frontier[j - 1]);
  for (const j of [10, 25, 40, 80]) {
    const want = bruteForce(items, j);
    if (!Number.isFinite(want)) {
      assert.equal(r.choiceAt(j), undefined);
      continue;
    }
    assert.ok(Math.abs(r.frontier[j] - want) < 1e-9, `capacity ${j}`);
    const choice = r.choiceAt(j)!;
    assert.ok(choice.reduce((s, k, i) => s + items[i].cost[k], 0) <= j);
    assert.ok(Math.abs(choice.reduce((s, k, i) => s + items[i].loss[k], 0) - want) < 1e-9);
  }
});

test('nothing fits: no choice; bad input: a clear error naming the item', () => {
  assert.equal(solveKnapsack([{ cost: [5], loss: [1] }], 4).choice, undefined);
  assert.throws(
    () =>
      solveKnapsack(
        [
          { cost: [1], loss: [1] },
          { cost: [-1], loss: [0] },
        ],
        4,
      ),
    /item 1: cost -1/,
  );
  assert.throws(() => solveKnapsack([{ cost: [1, 2], loss: [1] }], 4), /item 0: 2 costs for 1 losses/);
});
