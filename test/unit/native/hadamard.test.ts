/** The native fast Walsh–Hadamard transform against a dense float64 Sylvester product, and its invariants. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fwhtRows } from '../../../native/ts/hadamard';
import { LowbitKernelError } from '../../../native/ts/addon';
import { sylvesterHadamard } from '../../../engine/transforms/rotationHadamard';

function rows(count: number, n: number, seed: number): Float64Array {
  return Float64Array.from({ length: count * n }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * (1 + (i % 5)));
}

describe('native fwhtRows', () => {
  test('equals the dense float64 product V[a, b] ← Σ_c H_p[a, c]·V[c, b] for each row (p = 1…128, m = 1, 3, 12)', () => {
    for (const p of [1, 2, 8, 128])
      for (const m of [1, 3, 12]) {
        const count = 5,
          n = p * m;
        const v = rows(count, n, p + m);
        const want = new Float64Array(v.length);
        const h = sylvesterHadamard(p);
        for (let r = 0; r < count; r++)
          for (let a = 0; a < p; a++)
            for (let b = 0; b < m; b++) {
              let s = 0;
              for (let c = 0; c < p; c++) s += h[a * p + c] * v[r * n + c * m + b];
              want[r * n + a * m + b] = s;
            }
        fwhtRows(v, count, p, m, 2);
        for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - want[i]) <= 1e-12 * (1 + Math.abs(want[i])), `p=${p} m=${m} i=${i}`);
      }
  });

  test('H·H = p·I: applying it twice multiplies by p; the norm grows by √p (orthogonality)', () => {
    const p = 64,
      v = rows(3, p, 9),
      orig = v.slice();
    fwhtRows(v, 3, p);
    for (let r = 0; r < 3; r++) {
      let a = 0,
        b = 0;
      for (let j = 0; j < p; j++) {
        a += v[r * p + j] ** 2;
        b += orig[r * p + j] ** 2;
      }
      assert.ok(Math.abs(a - p * b) < 1e-9 * a);
    }
    fwhtRows(v, 3, p);
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i] - p * orig[i]) < 1e-9 * p);
  });

  test('thread count does not change the result', () => {
    const a = rows(37, 256, 3),
      b = a.slice();
    fwhtRows(a, 37, 256, 1, 1);
    fwhtRows(b, 37, 256, 1, 4);
    assert.deepEqual(a, b);
  });

  test('bad sizes are clear errors', () => {
    assert.throws(
      () => fwhtRows(new Float64Array(12), 1, 12),
      (e: Error) => e instanceof LowbitKernelError && /power of two/.test(e.message),
    );
    assert.throws(
      () => fwhtRows(new Float64Array(10), 1, 8),
      (e: Error) => e instanceof LowbitKernelError && /expected 1·8·1/.test(e.message),
    );
  });
});
