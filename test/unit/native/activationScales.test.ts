import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { awqSearch, awqScales, smoothQuantScales, channelAbsMax, osplusShift, osplusScales, rtn, relativeError, Hessian } from '../../../native/ts/index';
import { gaussian, correlatedX } from './linearReference';

const rows = 24, n = 48, tokens = 200;

async function fixture(): Promise<{ w: Float32Array; x: Float32Array; h: Hessian; actMean: Float32Array }> {
  const x = correlatedX(tokens, n, 11);
  for (let t = 0; t < tokens; t++) for (const j of [3, 17, 40]) x[t * n + j] = x[t * n + j]! * 25; // outlier channels
  const h = new Hessian(n);
  await h.add(x, tokens);
  const actMean = new Float32Array(n);
  for (let t = 0; t < tokens; t++) for (let j = 0; j < n; j++) actMean[j] = actMean[j]! + Math.abs(x[t * n + j]!) / tokens;
  return { w: gaussian(rows * n, 12, 0.05), x, h, actMean };
}

describe('AWQ search (layer-local loss)', () => {
  test('α = 0 is plain RTN exactly (s = 1)', async () => {
    const { w, h, actMean } = await fixture();
    assert.deepEqual(awqScales(actMean, 0), new Float32Array(n).fill(1));
    const a = await awqSearch(w, rows, n, actMean, h, { bits: 3, groupSize: 16, symmetric: false, grid: 1, clipSearch: false });
    const r = await rtn(w, rows, n, { bits: 3, groupSize: 16, symmetric: false });
    assert.equal(a.alpha, 0);
    assert.deepEqual(a.quantized.codes, r.codes);
    assert.deepEqual(a.quantized.dequant, r.dequant);
    assert.equal(a.lossAlpha0, relativeError(w, r.dequant, rows, n, h));
  });

  test('loss(best α) ≤ loss(α = 0); the outlier-aware scales help here; clip ratio 1 reproduces the unclipped result', async () => {
    const { w, h, actMean } = await fixture();
    const a = await awqSearch(w, rows, n, actMean, h, { bits: 3, groupSize: 16, symmetric: false, clipSearch: false });
    assert.equal(a.lossByAlpha.length, 20);
    assert.equal(a.loss, Math.min(...a.lossByAlpha));
    assert.ok(a.loss <= a.lossAlpha0);
    assert.ok(a.alpha > 0, `expected a positive α with outlier channels (losses ${a.lossByAlpha.map((v) => v.toFixed(4)).join(' ')})`);
    const one = await awqSearch(w, rows, n, actMean, h, { bits: 3, groupSize: 16, symmetric: false, clipSteps: 1 });
    assert.deepEqual(one.quantized.dequant, a.quantized.dequant);
    assert.ok(one.clipRatios.every((v) => v === 1));
    const clipped = await awqSearch(w, rows, n, actMean, h, { bits: 3, groupSize: 16, symmetric: false });
    assert.ok(clipped.clipRatios.every((v) => v <= 1 && v >= 0.55));
    assert.equal(clipped.alpha, a.alpha);
  });

  test('FP equivalence of the fold: (x/s)·(W·s)ᵀ = x·Wᵀ', async () => {
    const { w, x, actMean } = await fixture();
    const s = awqScales(actMean, 0.5);
    for (let t = 0; t < 5; t++) for (let r = 0; r < rows; r++) {
      let a = 0, b = 0;
      for (let j = 0; j < n; j++) { a += (x[t * n + j]! / s[j]!) * (w[r * n + j]! * s[j]!); b += x[t * n + j]! * w[r * n + j]!; }
      assert.ok(Math.abs(a - b) <= 1e-9 * (1 + Math.abs(b)));
    }
  });
});

describe('SmoothQuant and OS+', () => {
  test('SmoothQuant scales follow max|X|^α / max|W|^(1−α) with 1e-5 floors', () => {
    const s = smoothQuantScales(Float32Array.from([4, 9, 0]), Float32Array.from([1, 4, 0]), 0.5);
    assert.ok(Math.abs(s[0]! - 2) < 1e-6);
    assert.ok(Math.abs(s[1]! - 1.5) < 1e-6);
    assert.equal(s[2], Math.fround(1e-5));
    assert.deepEqual(channelAbsMax(Float32Array.from([1, -3, -2, 2]), 2, 2), Float32Array.from([2, 3]));
  });

  test('OS+ shift is exact in FP and the weight-only scale search gives s ≥ 1, loss ≤ unscaled RTN', async () => {
    const { w, x, h } = await fixture();
    const mx = new Float32Array(n).fill(-Infinity), mn = new Float32Array(n).fill(Infinity);
    for (let t = 0; t < tokens; t++) for (let j = 0; j < n; j++) { mx[j] = Math.max(mx[j]!, x[t * n + j]!); mn[j] = Math.min(mn[j]!, x[t * n + j]!); }
    const z = osplusShift(mx, mn);
    for (let r = 0; r < 3; r++) {
      let a = 0, b = 0, bias = 0;
      for (let j = 0; j < n; j++) { a += (x[j]! - z[j]!) * w[r * n + j]!; bias += w[r * n + j]! * z[j]!; b += x[j]! * w[r * n + j]!; }
      assert.ok(Math.abs(a + bias - b) <= 1e-6 * (1 + Math.abs(b)));
    }
    const cmx = mx.map((v, j) => v - z[j]!), cmn = mn.map((v, j) => v - z[j]!);
    const res = await osplusScales(w, rows, n, cmx, cmn, h, { bits: 3, groupSize: 16, symmetric: false, steps: 25 });
    assert.ok(res.scales.every((v) => v >= 1));
    assert.ok(res.loss <= res.lossUnscaled);
    const r = await rtn(w, rows, n, { bits: 3, groupSize: 16, symmetric: false });
    assert.equal(res.lossUnscaled, relativeError(w, r.dequant, rows, n, h), 'first threshold (amax) gives s = 1 = RTN');
  });
});
