import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Hessian, relativeError, rtn, LowbitKernelError } from '../../../native/ts/index';
import { hessianRef, traceForm, gaussian, correlatedX } from './linearReference';

function assertClose(a: Float64Array, b: Float64Array, rel: number): void {
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= rel * scale, `entry ${i}: ${a[i]} vs ${b[i]}`);
}

describe('native Hessian', () => {
  test('running 2/N Σ xxᵀ (N = tokens) matches the float64 reference over several add() calls', async () => {
    // fp32 tiles (docs/decisions.md): each run of ≤ 256 tokens is an fp32 FMA chain added to H in fp64,
    // so |Ĥ_ij − H_ij| ≤ γ₂₅₆·(2/N)·Σ_t |x_ti x_tj| with γ₂₅₆ = 256u/(1 − 256u) ≈ 1.53e-5 (u = 2⁻²⁴).
    const n = 37; // not a multiple of any micro-kernel tile
    const xs = [correlatedX(50, n, 1), correlatedX(13, n, 2), correlatedX(1, n, 3), correlatedX(700, n, 7)];
    const h = new Hessian(n);
    for (const x of xs) await h.add(x, x.length / n);
    assert.equal(h.samples, 764);
    const ref = hessianRef(xs, n),
      absRef = hessianRef(
        xs.map((x) => x.map(Math.abs)),
        n,
      );
    let worst = 0,
      scale = 0;
    for (let i = 0; i < n * n; i++) {
      const err = Math.abs(h.matrix()[i]! - ref[i]!);
      assert.ok(
        err <= 1.6e-5 * absRef[i]! + 1e-12 * absRef[i]!,
        `entry ${i}: ${h.matrix()[i]} vs ${ref[i]} (bound ${1.6e-5 * absRef[i]!})`,
      );
      worst = Math.max(worst, err);
      scale = Math.max(scale, Math.abs(ref[i]!));
    }
    assert.ok(worst <= 1e-6 * scale, `max error ${worst / scale} of max |H| (fp32 rounding is ~1e-7)`);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.equal(h.matrix()[i * n + j], h.matrix()[j * n + i]);
  });

  test('independent of the thread count', async () => {
    const n = 70,
      x = correlatedX(40, n, 4);
    const a = new Hessian(n),
      b = new Hessian(n);
    await a.add(x, 40, 1);
    await b.add(x, 40, 2);
    assert.deepEqual(a.matrix(), b.matrix());
  });

  test('independent of the thread count over several token tiles and many micro-tiles (bit-exact)', async () => {
    const n = 203,
      T = 600,
      x = gaussian(T * n, 9); // 3 fp32 tiles of ≤ 256 tokens; ragged edges
    const hs = [1, 2, 3].map(() => new Hessian(n));
    for (const [i, h] of hs.entries()) {
      await h.add(x.subarray(0, 77 * n), 77, i + 1);
      await h.add(x.subarray(77 * n), T - 77, i + 1);
    }
    assert.deepEqual(hs[1]!.matrix(), hs[0]!.matrix());
    assert.deepEqual(hs[2]!.matrix(), hs[0]!.matrix());
  });

  test('rejects bad shapes and non-finite activations', async () => {
    const h = new Hessian(4);
    await assert.rejects(h.add(new Float32Array(7), 2), (e: LowbitKernelError) => e.code === 'E_SHAPE');
    const x = new Float32Array(8);
    x[5] = Infinity;
    await assert.rejects(h.add(x, 2), (e: LowbitKernelError) => e.code === 'E_NUMERIC' && /token 1, channel 1/.test(e.message));
    assert.throws(
      () => new Hessian(0),
      (e: LowbitKernelError) => e.code === 'E_SHAPE',
    );
  });
});

describe('native relativeError', () => {
  test('equals tr(ΔHΔᵀ)/tr(WHWᵀ) from the reference; 0 for ŵ = W', async () => {
    const rows = 9,
      n = 33,
      x = correlatedX(60, n, 5);
    const h = new Hessian(n);
    await h.add(x, 60);
    const w = gaussian(rows * n, 6);
    const q = await rtn(w, rows, n, { bits: 3, groupSize: 16, symmetric: false });
    const d = w.map((v, i) => v - q.dequant[i]!);
    const expected = traceForm(d, rows, n, h.matrix()) / traceForm(w, rows, n, h.matrix());
    const got = relativeError(w, q.dequant, rows, n, h);
    assert.ok(Math.abs(got - expected) <= 1e-12 * expected, `${got} vs ${expected}`);
    assert.ok(got > 0 && got < 1);
    assert.equal(relativeError(w, w, rows, n, h.matrix()), 0);
    assert.throws(
      () => relativeError(w, q.dequant, rows, n, new Float64Array(5)),
      (e: LowbitKernelError) => e.code === 'E_SHAPE',
    );
  });
  test('a tall layer, traced in row blocks (4 MiB of float64 each: 8192 rows at 64 columns), equals the reference', async () => {
    // Issue 11: the traces are formed block by block, never as whole-layer float64 copies (1 GB for a 32000×2048 head).
    const rows = 8192 * 2 + 77,
      n = 64,
      x = correlatedX(200, n, 9);
    const h = new Hessian(n);
    await h.add(x, 200);
    const w = gaussian(rows * n, 10);
    const q = await rtn(w, rows, n, { bits: 4, groupSize: 32, symmetric: false });
    const d = w.map((v, i) => v - q.dequant[i]!);
    const expected = traceForm(d, rows, n, h.matrix()) / traceForm(w, rows, n, h.matrix());
    const got = relativeError(w, q.dequant, rows, n, h);
    assert.ok(Math.abs(got - expected) <= 1e-12 * expected, `${got} vs ${expected}`);
  });
});
