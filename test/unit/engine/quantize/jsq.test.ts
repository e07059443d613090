/**
 * JSQ (engine/quantize/jsq.ts) against float64 references written from the paper / the authors'
 * `generate_ss` and `clip_matrix`, and its invariants: ρ = 0 is Wanda's mask, masks hit the requested
 * sparsity / N:M exactly, sparsity 0 without the editor is SmoothQuant, the editor keeps the best
 * candidate and never does worse than no clip on its sample.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Hessian, pruneRtn, gptq, smoothQuantScales, columnAbsMax, jsqOutputError } from '../../../../native/ts/index';
import { ChannelStats } from '../../../../engine/calibrate/channelStats';
import { TokenSample } from '../../../../engine/calibrate/tokenSample';
import type { InputStatistics } from '../../../../engine/calibrate/inputStatistics';
import { CLIP_GRID, clipThreshold, jsqGroup, jsqSaliency, outputRangeTerm, rowMask } from '../../../../engine/quantize/jsq';
import { nativeKernelsAvailable } from '../../../../engine/quantize/native';
import type { LayerPlan, SparsityPlan } from '../../../../protocol/plan';
import { centeredLcg } from '../../../fixtures/lcg';

const ROWS = 12,
  COLS = 32,
  WINDOW = 16,
  WINDOWS = 6;

/** Inputs with two outlier channels and a massive first position (an attention-sink-like token). */
function activations(seed: number): Float32Array {
  const r = centeredLcg(seed);
  const x = new Float32Array(WINDOW * WINDOWS * COLS);
  for (let t = 0; t < WINDOW * WINDOWS; t++)
    for (let j = 0; j < COLS; j++) x[t * COLS + j] = r() * (j === 5 || j === 17 ? 8 : 1) + (t % WINDOW === 0 && j === 9 ? 40 : 0);
  return x;
}

function weights(seed: number, rows = ROWS): Float32Array {
  const r = centeredLcg(seed);
  return Float32Array.from({ length: rows * COLS }, () => r());
}

async function statistics(x: Float32Array): Promise<InputStatistics> {
  const tokens = x.length / COLS;
  const hessian = new Hessian(COLS);
  await hessian.add(x, tokens, 1);
  const stats = new ChannelStats(COLS, true);
  for (let w = 0; w < WINDOWS; w++) stats.add(x.subarray(w * WINDOW * COLS, (w + 1) * WINDOW * COLS), WINDOW, WINDOW);
  return { tensor: 'x', n: COLS, hessian, stats, layers: ['a'] };
}

/** The authors' generate_ss, literally: zero column j, recompute X̄Wᵀ, take max − min over positions per row. */
function generateSsRef(w: Float32Array, rows: number, xbar: Float64Array, T: number): Float64Array {
  const ss = new Float64Array(rows * COLS);
  for (let j = 0; j < COLS; j++) {
    const wz = Float64Array.from(w);
    for (let i = 0; i < rows; i++) wz[i * COLS + j] = 0;
    for (let i = 0; i < rows; i++) {
      let hi = -Infinity,
        lo = Infinity;
      for (let t = 0; t < T; t++) {
        let y = 0;
        for (let k = 0; k < COLS; k++) y += xbar[t * COLS + k] * wz[i * COLS + k];
        hi = Math.max(hi, y);
        lo = Math.min(lo, y);
      }
      ss[i * COLS + j] = hi - lo;
    }
  }
  return ss;
}

const plan = (sparsity: SparsityPlan | undefined, settings: Record<string, unknown> = {}, name = 'a', bits = 8): LayerPlan => ({
  name,
  method: 'jsq',
  bits,
  groupSize: 16,
  symmetric: false,
  settings,
  rules: [0],
  ...(sparsity ? { sparsity } : {}),
});

describe('JSQ saliency and masks (float64 references)', () => {
  test('the positional mean and the token rows of the sample', async () => {
    const x = activations(1);
    const s = (await statistics(x)).stats.sample!;
    const m = s.mean();
    assert.equal(m.rows, WINDOW);
    for (const [t, j] of [
      [0, 9],
      [3, 5],
      [15, 31],
    ]) {
      let sum = 0;
      for (let w = 0; w < WINDOWS; w++) sum += x[(w * WINDOW + t) * COLS + j];
      assert.ok(Math.abs(m.data[t * COLS + j] - sum / WINDOWS) < 1e-12);
    }
    assert.equal(s.tokens().rows, WINDOW * WINDOWS);
    assert.deepEqual(Array.from(s.tokens().data.subarray(0, 5)), Array.from(x.subarray(0, 5)));
  });

  test('masks prune exactly ⌊p·cols⌋ per row, or N of every M', () => {
    const r = centeredLcg(4);
    const score = Float64Array.from({ length: ROWS * COLS }, () => r());
    for (const p of [0.3, 0.5, 0.7]) {
      const keep = rowMask(score, ROWS, COLS, { ratio: p });
      for (let i = 0; i < ROWS; i++) {
        const row = keep.subarray(i * COLS, (i + 1) * COLS);
        assert.equal(
          row.reduce((a, b) => a + b, 0),
          COLS - Math.floor(p * COLS),
        );
        const kept = [...row.keys()].filter((j) => row[j]).map((j) => score[i * COLS + j]);
        const pruned = [...row.keys()].filter((j) => !row[j]).map((j) => score[i * COLS + j]);
        assert.ok(Math.max(...pruned) <= Math.min(...kept), 'a pruned weight outranks a kept one');
      }
    }
    for (const [n, m] of [
      [2, 4],
      [4, 8],
    ]) {
      const keep = rowMask(score, ROWS, COLS, { n, m });
      for (let i = 0; i < ROWS * COLS; i += m)
        assert.equal(
          keep.subarray(i, i + m).reduce((a, b) => a + b, 0),
          m - n,
        );
    }
    assert.ok(rowMask(score, ROWS, COLS, { ratio: 0 }).every((k) => k === 1));
    assert.throws(() => rowMask(score, ROWS, 30, { n: 2, m: 4 }), /multiple of 4 \(got 30\)/);
  });

  test('the clip threshold is the k-th largest |x| (the authors’ topk), k = ⌊c·numel⌋', () => {
    const v = Float32Array.from([9, 7, 5, 3, 1, 1, 1, 1, 1, 1]);
    assert.equal(clipThreshold(v, 0), null);
    assert.equal(clipThreshold(v, 0.05), null, 'k = 0: nothing clipped');
    assert.equal(clipThreshold(v, 0.1), 9);
    assert.equal(clipThreshold(v, 0.3), 5);
  });
});

describe('JSQ prepare step (native RTN inside)', { skip: !nativeKernelsAvailable() && 'native addon not built' }, () => {
  test('native R_ij equals the authors’ column-zeroing generate_ss (float64), for any thread count', async () => {
    const w = weights(2);
    const xbar = (await statistics(activations(3))).stats.sample!.mean();
    const got = await outputRangeTerm(w, ROWS, COLS, xbar.data, xbar.rows);
    assert.deepEqual(
      Array.from(await outputRangeTerm(w, ROWS, COLS, xbar.data, xbar.rows, 1)),
      Array.from(got),
      'depends on the thread count',
    );
    const ref = generateSsRef(w, ROWS, xbar.data, xbar.rows);
    for (let i = 0; i < got.length; i++)
      assert.ok(Math.abs(got[i] - ref[i]) <= 1e-9 * (1 + Math.abs(ref[i])), `entry ${i}: ${got[i]} vs ${ref[i]}`);
    const colNorm = Float64Array.from({ length: COLS }, (_, j) => 1 + j / 10);
    const s = await jsqSaliency(w, ROWS, COLS, colNorm, xbar.data, xbar.rows, 2.1);
    for (let i = 0; i < ROWS; i++)
      for (let j = 0; j < COLS; j++) {
        const want = Math.abs(w[i * COLS + j]) * colNorm[j] + 2.1 * ref[i * COLS + j];
        assert.ok(Math.abs(s[i * COLS + j] - want) <= 1e-9 * (1 + want));
      }
  });

  test('native output error equals Σ (y − X̂Ŵᵀ)² in float64', async () => {
    const r = centeredLcg(21);
    const T = 7;
    const y = Float64Array.from({ length: T * ROWS }, () => r());
    const xq = Float64Array.from({ length: T * COLS }, () => r());
    const wq = weights(22);
    let ref = 0;
    for (let t = 0; t < T; t++)
      for (let i = 0; i < ROWS; i++) {
        let b = 0;
        for (let j = 0; j < COLS; j++) b += xq[t * COLS + j] * wq[i * COLS + j];
        ref += (y[t * ROWS + i] - b) ** 2;
      }
    const got = await jsqOutputError(wq, ROWS, COLS, y, xq, T);
    assert.ok(Math.abs(got - ref) <= 1e-12 * ref, `${got} vs ${ref}`);
  });

  test('ρ = 0 gives Wanda’s mask exactly (|W|·‖X_j‖ per row), unstructured and 2:4', async () => {
    const input = await statistics(activations(5));
    const w = weights(6);
    const H = input.hessian.matrix();
    const colScale = Float64Array.from({ length: COLS }, (_, j) => Math.sqrt(H[j * COLS + j]));
    for (const sparsity of [{ ratio: 0.5 }, { n: 2, m: 4 }] as SparsityPlan[]) {
      const wanda = await pruneRtn(w, ROWS, COLS, colScale, { bits: 8, groupSize: 16, symmetric: false, sparsity, scope: 'row' });
      const r = await jsqGroup([{ layer: plan(sparsity, { rho: 0, clip_max: 0 }), weight: { data: w, rows: ROWS, cols: COLS } }], input, 1);
      assert.deepEqual(Array.from(r.keeps[0]), Array.from(wanda.keep));
    }
  });

  test('ρ > 0 keeps weights whose removal widens the output range: it changes the mask', async () => {
    const input = await statistics(activations(5));
    const w = weights(6);
    const member = (rho: number) => [{ layer: plan({ ratio: 0.5 }, { rho, clip_max: 0 }), weight: { data: w, rows: ROWS, cols: COLS } }];
    const a = await jsqGroup(member(0), input, 1);
    const b = await jsqGroup(member(2.1), input, 1);
    assert.notDeepEqual(Array.from(a.keeps[0]), Array.from(b.keeps[0]));
    const xbar = input.stats.sample!.mean();
    const R = await outputRangeTerm(w, ROWS, COLS, xbar.data, xbar.rows);
    // Summed over the mask, the range term of what is kept is larger with ρ > 0.
    const keptR = (k: Uint8Array) => k.reduce((acc, v, i) => acc + v * R[i], 0);
    assert.ok(keptR(b.keeps[0]) > keptR(a.keeps[0]));
  });

  test('sparsity 0 without the editor is SmoothQuant: same scales, nothing pruned, one candidate', async () => {
    const input = await statistics(activations(7));
    const ws = [weights(8), weights(9, 20)];
    const members = ws.map((data, i) => ({
      layer: plan(undefined, { clip_max: 0, alpha: 0.6 }, `m${i}`),
      weight: { data, rows: data.length / COLS, cols: COLS },
    }));
    const r = await jsqGroup(members, input, 1);
    const sq = smoothQuantScales(input.stats.absMax, columnAbsMax(ws.map((w) => ({ w, rows: w.length / COLS, cols: COLS }))), 0.6);
    assert.deepEqual(Array.from(r.scale), Array.from(sq));
    assert.ok(r.keeps.every((k) => k.every((v) => v === 1)));
    assert.deepEqual(
      r.details.search.map((s) => s.fraction),
      [0],
    );
    assert.equal(r.details.clip_threshold, null);
    assert.deepEqual(Array.from(r.clippedAbsMax), Array.from(input.stats.absMax));
  });

  test('the editor searches 0 and the grid up to clip_max, keeps the least-error candidate, and clips the activation maxima at τ', async () => {
    const input = await statistics(activations(10));
    const w = weights(11);
    const r = await jsqGroup([{ layer: plan({ ratio: 0.5 }, {}, 'a', 4), weight: { data: w, rows: ROWS, cols: COLS } }], input, 1);
    assert.deepEqual(
      r.details.search.map((s) => s.fraction),
      [0, ...CLIP_GRID],
    );
    const best = Math.min(...r.details.search.map((s) => s.error));
    assert.equal(r.details.search.find((s) => s.fraction === r.details.clip_fraction)!.error, best);
    assert.ok(best <= r.details.search[0].error, 'the chosen clip does worse than no clip');
    const tau = r.details.clip_threshold;
    if (tau !== null) for (let j = 0; j < COLS; j++) assert.equal(r.clippedAbsMax[j], Math.min(input.stats.absMax[j], tau));
    const capped = await jsqGroup(
      [{ layer: plan({ ratio: 0.5 }, { clip_max: 0.002 }), weight: { data: w, rows: ROWS, cols: COLS } }],
      input,
      1,
    );
    assert.deepEqual(
      capped.details.search.map((s) => s.fraction),
      [0, 0.0005, 0.001, 0.002],
    );
  });

  test('pruner sparsegpt: SparseGPT’s mask and OBS-updated float survivors', async () => {
    const input = await statistics(activations(12));
    const w = weights(13);
    const r = await jsqGroup(
      [{ layer: plan({ ratio: 0.5 }, { pruner: 'sparsegpt', clip_max: 0 }), weight: { data: w, rows: ROWS, cols: COLS } }],
      input,
      1,
    );
    const ref = await gptq(w, ROWS, COLS, input.hessian, {
      bits: 8,
      groupSize: 16,
      symmetric: false,
      damp: 0.01,
      blockSize: 128,
      sparsity: { ratio: 0.5 },
      pruneOnly: true,
    });
    assert.deepEqual(Array.from(r.keeps[0]), Array.from(ref.keep!));
    assert.deepEqual(Array.from(r.updated![0]), Array.from(ref.dequant));
  });

  test('an input without an activation sample is an error naming the layer', async () => {
    const input = await statistics(activations(14));
    delete input.stats.sample;
    await assert.rejects(
      jsqGroup([{ layer: plan({ ratio: 0.5 }, {}, 'blk.3.wq'), weight: { data: weights(1), rows: ROWS, cols: COLS } }], input, 1),
      /layer blk\.3\.wq \(jsq\): no activation sample was collected for its input 'x'/,
    );
  });
});

test('TokenSample rejects a zero window length', () => {
  assert.throws(() => new TokenSample(4).add(new Float32Array(8), 2, 0), /window length must be > 0/);
});
