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
    const n = 37; // not a multiple of the 4×4 tile
    const xs = [correlatedX(50, n, 1), correlatedX(13, n, 2), correlatedX(1, n, 3)];
    const h = new Hessian(n);
    for (const x of xs) await h.add(x, x.length / n);
    assert.equal(h.samples, 64);
    const ref = hessianRef(xs, n);
    assertClose(h.matrix(), ref, 1e-12);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.equal(h.matrix()[i * n + j], h.matrix()[j * n + i]);
  });

  test('independent of the thread count', async () => {
    const n = 70, x = correlatedX(40, n, 4);
    const a = new Hessian(n), b = new Hessian(n);
    await a.add(x, 40, 1);
    await b.add(x, 40, 2);
    assert.deepEqual(a.matrix(), b.matrix());
  });

  test('rejects bad shapes and non-finite activations', async () => {
    const h = new Hessian(4);
    await assert.rejects(h.add(new Float32Array(7), 2), (e: LowbitKernelError) => e.code === 'E_SHAPE');
    const x = new Float32Array(8);
    x[5] = Infinity;
    await assert.rejects(h.add(x, 2), (e: LowbitKernelError) => e.code === 'E_NUMERIC' && /token 1, channel 1/.test(e.message));
    assert.throws(() => new Hessian(0), (e: LowbitKernelError) => e.code === 'E_SHAPE');
  });
});

describe('native relativeError', () => {
  test('equals tr(ΔHΔᵀ)/tr(WHWᵀ) from the reference; 0 for ŵ = W', async () => {
    const rows = 9, n = 33, x = correlatedX(60, n, 5);
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
    assert.throws(() => relativeError(w, q.dequant, rows, n, new Float64Array(5)), (e: LowbitKernelError) => e.code === 'E_SHAPE');
  });
});
