// R1-Sketch (native/src/core/sketch.cc): exact on rank-1 input, ≈ top SVD component with a gap,
// seeded and thread-count independent.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { r1Sketch, svd } from '../../../native/ts/binaryLowRank';
import { centeredLcg } from '../../fixtures/lcg';

function product(L: Float64Array, R: Float64Array, rows: number, cols: number, k: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let t = 0; t < k; t++) {
      const l = L[i * k + t]!;
      for (let j = 0; j < cols; j++) out[i * cols + j]! += l * R[t * cols + j]!;
    }
  return out;
}

describe('r1Sketch', () => {
  test('recovers a planted rank-1 matrix exactly', async () => {
    const r = centeredLcg(3),
      rows = 37,
      cols = 53;
    const x = Array.from({ length: rows }, r),
      y = Array.from({ length: cols }, r);
    const a = Float64Array.from({ length: rows * cols }, (_, i) => x[Math.floor(i / cols)]! * y[i % cols]!);
    const { L, R } = await r1Sketch(a, rows, cols, { rank: 1, seed: 11 });
    const p = product(L, R, rows, cols, 1);
    const err = Math.max(...p.map((v, i) => Math.abs(v - a[i]!)));
    assert.ok(err < 1e-12, `max error ${err}`);
  });

  test('matches the top SVD component on a matrix with a spectral gap', async () => {
    const r = centeredLcg(5),
      rows = 60,
      cols = 40;
    const noise = Float64Array.from({ length: rows * cols }, () => 0.01 * r());
    const x = Array.from({ length: rows }, r),
      y = Array.from({ length: cols }, r);
    const a = noise.map((v, i) => v + 3 * x[Math.floor(i / cols)]! * y[i % cols]!);
    const { L, R } = await r1Sketch(a, rows, cols, { rank: 1, iters: 2, seed: 1 });
    const { u, s, vt, k } = await svd(a, rows, cols);
    const top = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) top[i * cols + j] = u[i * k]! * s[0]! * vt[j]!;
    const p = product(L, R, rows, cols, 1);
    let diff = 0,
      norm = 0;
    p.forEach((v, i) => {
      diff += (v - top[i]!) ** 2;
      norm += top[i]! ** 2;
    });
    assert.ok(Math.sqrt(diff / norm) < 1e-6, `relative difference ${Math.sqrt(diff / norm)}`);
  });

  test('residual error is non-increasing in rank and the output is seeded', async () => {
    const r = centeredLcg(9),
      rows = 30,
      cols = 24;
    const a = Float64Array.from({ length: rows * cols }, r);
    let prev = Infinity;
    for (let k = 0; k <= 8; k++) {
      const { L, R } = await r1Sketch(a, rows, cols, { rank: k, seed: 4 });
      const p = product(L, R, rows, cols, k);
      const e = p.reduce((s, v, i) => s + (a[i]! - v) ** 2, 0);
      assert.ok(e <= prev + 1e-12, `rank ${k}: ${e} > ${prev}`);
      prev = e;
    }
    const one = await r1Sketch(a, rows, cols, { rank: 3, seed: 4, threads: 1 });
    const two = await r1Sketch(a, rows, cols, { rank: 3, seed: 4, threads: 2 });
    assert.deepEqual(one.L, two.L);
    assert.deepEqual(one.R, two.R);
  });

  test('honours an already-aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(r1Sketch(new Float64Array(4), 2, 2, { rank: 1, signal: ac.signal }), { code: 'E_CANCELLED' });
  });
});
