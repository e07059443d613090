/** The randomized Hadamard rotation against float64 references built from the definitions. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  hadamardFactors,
  isPaleyOrder,
  paleyHadamard,
  randomizedHadamard,
  rotateMatrix,
  sylvesterHadamard,
} from '../../../../engine/transforms/rotationHadamard';

/** max |A·Aᵀ − c·I| over a row-major n×n matrix. */
function gramError(a: Float64Array, n: number, c: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * a[j * n + k];
      worst = Math.max(worst, Math.abs(s - (i === j ? c : 0)));
    }
  return worst;
}

/** Kronecker product A ⊗ B (row-major). */
function kron(a: Float64Array, p: number, b: Float64Array, m: number): Float64Array {
  const n = p * m;
  const out = new Float64Array(n * n);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < p; j++)
      for (let k = 0; k < m; k++) for (let l = 0; l < m; l++) out[(i * m + k) * n + j * m + l] = a[i * p + j] * b[k * m + l];
  return out;
}

describe('Hadamard matrices', () => {
  test('Sylvester H_n: entries ±1, H·Hᵀ = n·I', () => {
    for (const n of [1, 2, 8, 64]) {
      const h = sylvesterHadamard(n);
      assert.ok(h.every((x) => x === 1 || x === -1));
      assert.equal(gramError(h, n, n), 0, `n=${n}`);
    }
  });

  test('Paley I orders and matrices: H·Hᵀ = m·I exactly', () => {
    assert.deepEqual([4, 8, 12, 20, 24, 28, 32, 44, 48, 60, 68, 172].filter(isPaleyOrder), [4, 8, 12, 20, 24, 32, 44, 48, 60, 68]);
    for (const m of [4, 12, 20, 24, 44, 60]) {
      const h = paleyHadamard(m);
      assert.ok(
        h.every((x) => x === 1 || x === -1),
        `m=${m} entries`,
      );
      assert.equal(gramError(h, m, m), 0, `m=${m}`);
    }
    assert.throws(() => paleyHadamard(28), /no Paley I Hadamard matrix of order 28/);
  });

  test('factorization prefers the largest power of two', () => {
    assert.deepEqual(hadamardFactors(64), { pow2: 64, m: 1 });
    assert.deepEqual(hadamardFactors(3072), { pow2: 256, m: 12 });
    assert.deepEqual(hadamardFactors(5120), { pow2: 256, m: 20 });
    assert.equal(hadamardFactors(172), undefined);
    assert.equal(hadamardFactors(7), undefined);
  });
});

describe('randomizedHadamard', () => {
  test('R = diag(s)·H/√n: orthogonal, ±1/√n entries, and equal to the dense float64 reference', () => {
    for (const n of [64, 48, 96]) {
      const r = randomizedHadamard(n, 5);
      const dense = r.dense();
      assert.ok(gramError(dense, n, 1) < 1e-12, `n=${n} orthogonal`);
      assert.ok(
        dense.every((x) => Math.abs(Math.abs(x) - 1 / Math.sqrt(n)) < 1e-12),
        `n=${n} entries`,
      );
      // Reference: s from the same dense matrix's first column sign pattern against H.
      const f = hadamardFactors(n)!;
      const h = f.m > 1 ? kron(sylvesterHadamard(f.pow2), f.pow2, paleyHadamard(f.m), f.m) : sylvesterHadamard(n);
      for (let i = 0; i < n; i++) {
        const s = Math.sign(dense[i * n] * h[i * n]);
        for (let j = 0; j < n; j++) assert.ok(Math.abs(dense[i * n + j] - (s * h[i * n + j]) / Math.sqrt(n)) < 1e-12, `n=${n} (${i},${j})`);
      }
    }
  });

  test('seeded: the same seed gives the same R, another seed another R', () => {
    const a = randomizedHadamard(64, 1).dense();
    assert.deepEqual(randomizedHadamard(64, 1).dense(), a);
    assert.notDeepEqual(randomizedHadamard(64, 2).dense(), a);
    assert.equal(randomizedHadamard(64, 1).construction, 'hadamard 2^6');
    assert.equal(randomizedHadamard(96, 1).construction, 'hadamard 2^3 ⊗ paley 12');
  });

  test('sizes with no Hadamard here get a seeded random orthogonal matrix', () => {
    const r = randomizedHadamard(43, 3);
    assert.equal(r.construction, 'random orthogonal');
    assert.ok(gramError(r.dense(), 43, 1) < 1e-12);
    assert.deepEqual(randomizedHadamard(43, 3).dense(), r.dense());
  });

  test('the native batch path (applyRows) equals the TypeScript reference (apply) row by row', () => {
    for (const n of [64, 96, 12, 40]) {
      const r = randomizedHadamard(n, 11);
      assert.ok(r.applyRows, `n=${n}`);
      const count = 7;
      const v = Float64Array.from({ length: count * n }, (_, i) => Math.cos(i * 0.31) * (i % 7));
      const want = v.slice();
      for (let k = 0; k < count; k++) r.apply(want.subarray(k * n, (k + 1) * n));
      r.applyRows!(v, count);
      for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - want[i]) < 1e-12, `n=${n} i=${i}`);
    }
  });

  for (const n of [12, 96])
    test(`rotateMatrix (n = ${n}): axis 1 is W·R, axis 0 is Rᵀ·W (float64 reference)`, () => {
      const k = 5;
      const r = randomizedHadamard(n, 9);
      const R = r.dense();
      const w = Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 1.3));
      const wr = w.slice();
      rotateMatrix(wr, k, n, 1, r);
      for (let i = 0; i < k; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let t = 0; t < n; t++) s += w[i * n + t] * R[t * n + j];
          assert.ok(Math.abs(wr[i * n + j] - s) < 1e-6);
        }
      const v = Float32Array.from({ length: n * k }, (_, i) => Math.cos(i * 0.7));
      const rv = v.slice();
      rotateMatrix(rv, n, k, 0, r);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < k; j++) {
          let s = 0;
          for (let t = 0; t < n; t++) s += R[t * n + i] * v[t * k + j];
          assert.ok(Math.abs(rv[i * k + j] - s) < 1e-6);
        }
      assert.throws(() => rotateMatrix(rv, n, k, 1, r), new RegExp(`rotation of size ${n}`));
    });
});
