// Float64 SVD (native/src/core/svd.cc): orthonormal factors, reconstruction and planted spectra,
// checked against float64 TypeScript arithmetic.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { svd } from '../../../native/ts/binaryLowRank';
import { centeredLcg } from '../../fixtures/lcg';

/** Random n×k matrix with orthonormal columns (modified Gram–Schmidt in float64). */
function orthonormal(n: number, k: number, r: () => number): Float64Array {
  const q = Float64Array.from({ length: n * k }, r);
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < j; i++) {
      let d = 0;
      for (let t = 0; t < n; t++) d += q[t * k + i]! * q[t * k + j]!;
      for (let t = 0; t < n; t++) q[t * k + j]! -= d * q[t * k + i]!;
    }
    let nr = 0;
    for (let t = 0; t < n; t++) nr += q[t * k + j]! ** 2;
    nr = Math.sqrt(nr);
    for (let t = 0; t < n; t++) q[t * k + j]! /= nr;
  }
  return q;
}
function planted(rows: number, cols: number, sig: number[], seed: number): Float64Array {
  const r = centeredLcg(seed),
    k = sig.length,
    U = orthonormal(rows, k, r),
    V = orthonormal(cols, k, r);
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += U[i * k + t]! * sig[t]! * V[j * k + t]!;
      a[i * cols + j] = s;
    }
  return a;
}

describe('svd', () => {
  for (const [rows, cols] of [
    [40, 25],
    [25, 40],
    [33, 33],
  ] as const) {
    test(`${rows}×${cols}: orthonormal U, V and exact reconstruction`, async () => {
      const r = centeredLcg(rows * 100 + cols);
      const a = Float64Array.from({ length: rows * cols }, r);
      const { u, s, vt, k } = await svd(a, rows, cols);
      assert.equal(k, Math.min(rows, cols));
      for (let i = 1; i < k; i++) assert.ok(s[i - 1]! >= s[i]!, 'singular values descending');
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          let du = 0,
            dv = 0;
          for (let t = 0; t < rows; t++) du += u[t * k + i]! * u[t * k + j]!;
          for (let t = 0; t < cols; t++) dv += vt[i * cols + t]! * vt[j * cols + t]!;
          assert.ok(Math.abs(du - (i === j ? 1 : 0)) < 1e-9, `UᵀU[${i},${j}] = ${du}`);
          assert.ok(Math.abs(dv - (i === j ? 1 : 0)) < 1e-9, `VᵀV[${i},${j}] = ${dv}`);
        }
      let maxErr = 0;
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          let v = 0;
          for (let t = 0; t < k; t++) v += u[i * k + t]! * s[t]! * vt[t * cols + j]!;
          maxErr = Math.max(maxErr, Math.abs(v - a[i * cols + j]!));
        }
      assert.ok(maxErr < 1e-10, `reconstruction error ${maxErr}`);
    });
  }

  test('recovers a planted spectrum', async () => {
    const sig = [10, 5, 2, 1, 0.5];
    const a = planted(30, 20, sig, 7);
    const { s } = await svd(a, 30, 20);
    sig.forEach((v, i) => assert.ok(Math.abs(s[i]! - v) < 1e-9, `σ${i} = ${s[i]} vs ${v}`));
    for (let i = sig.length; i < 20; i++) assert.ok(s[i]! < 1e-6, `σ${i} = ${s[i]} should vanish`);
  });

  test('rejects a wrong-sized input with a clear message', async () => {
    await assert.rejects(svd(new Float64Array(5), 2, 3), /expected 2×3 = 6 values, got 5/);
  });
});
