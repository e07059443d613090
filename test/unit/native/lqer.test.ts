// LQER (native/src/core/lqer.cc): exact at full rank, Eckart–Young optimality of the scaled
// error, plain SVD when actMean is null, error non-increasing in rank.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lorc, lqer, quantizeSymAbsmax, svd } from '../../../native/ts/binaryLowRank';
import { centeredLcg } from '../../fixtures/lcg';

function residual(
  w: Float32Array,
  res: { dequant: Float32Array; L: Float32Array; R: Float32Array; rank: number },
  rows: number,
  cols: number,
): Float64Array {
  const out = Float64Array.from(w, (v, i) => v - res.dequant[i]!);
  for (let x = 0; x < rows; x++)
    for (let k = 0; k < res.rank; k++) for (let c = 0; c < cols; c++) out[x * cols + c]! -= res.L[x * res.rank + k]! * res.R[k * cols + c]!;
  return out;
}

describe('lqer', () => {
  test('full rank is exact; the scaled error of rank k is the Eckart–Young optimum', async () => {
    const r = centeredLcg(1),
      rows = 24,
      cols = 18;
    const w = Float32Array.from({ length: rows * cols }, r);
    const act = Float32Array.from({ length: cols }, (_, c) => 0.2 + (c % 5) + Math.abs(r()));
    const full = await lqer(w, rows, cols, null, act, { bits: 3, groupSize: 8, rank: 18, factorBits: 0 });
    const res = residual(w, full, rows, cols);
    assert.ok(Math.max(...res.map(Math.abs)) < 1e-5);
    // E·S from the same plain quantizer, then its singular values in float64.
    const q = quantizeSymAbsmax(Float64Array.from(w), rows, cols, 3, 8, false);
    const es = Float64Array.from(w, (v, i) => (v - q.dequant[i]!) * act[i % cols]!);
    const { s } = await svd(es, rows, cols);
    let prev = Infinity;
    for (const k of [1, 3, 6, 12]) {
      const out = await lqer(w, rows, cols, null, act, { bits: 3, groupSize: 8, rank: k, factorBits: 0 });
      const d = residual(w, out, rows, cols);
      const scaled = d.reduce((acc, v, i) => acc + (v * act[i % cols]!) ** 2, 0);
      const optimum = [...s].slice(k).reduce((acc, v) => acc + v * v, 0);
      assert.ok(Math.abs(scaled - optimum) < 1e-5 * optimum, `rank ${k}: ${scaled} vs ${optimum}`);
      assert.ok(scaled <= prev);
      prev = scaled;
    }
  });

  test('without activations it is plain SVD and matches LoRC’s reconstruction', async () => {
    const r = centeredLcg(2),
      rows = 16,
      cols = 40,
      w = Float32Array.from({ length: rows * cols }, r);
    const a = await lqer(w, rows, cols, null, null, { bits: 4, groupSize: 16, rank: 5, factorBits: 0 });
    const b = await lorc(w, rows, cols, null, { bits: 4, groupSize: 16, rank: 5, factorBits: 0 });
    const da = residual(w, a, rows, cols),
      db = residual(w, b, rows, cols);
    da.forEach((v, i) => assert.ok(Math.abs(v - db[i]!) < 1e-5));
  });

  test('rejects actMean of the wrong length', async () => {
    await assert.rejects(lqer(new Float32Array(6), 2, 3, null, new Float32Array(2)), /actMean must have 3 entries/);
  });
});
