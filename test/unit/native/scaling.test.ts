// AWQ / SmoothQuant / OS+ kernels (native/ts/scaling.ts) against float64 references and the invariants
// of docs/algorithms.md §3: α = 0 ⇒ RTN exactly, loss(best) ≤ loss(α = 0), clip ratio 1 ⇒ unclipped,
// FP equivalence of scaling and shifting, s ≥ 1 for OS+.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  awqScales,
  awqSearch,
  columnAbsMax,
  osplusScales,
  scaleColumns,
  scaleHessian,
  shiftHessian,
  smoothQuantScales,
} from '../../../native/ts/scaling';
import { correlatedX, gaussian, hessianRef, rtnRef, traceForm } from './linearReference';

const rows = 12,
  cols = 40,
  tokens = 96;
const x = correlatedX(tokens, cols, 11);
const H = hessianRef([x], cols);
const w = gaussian(rows * cols, 5, 0.1);
const xbar = new Float64Array(cols);
for (let t = 0; t < tokens; t++) for (let j = 0; j < cols; j++) xbar[j] = xbar[j]! + Math.abs(x[t * cols + j]!) / tokens;
const opts = { bits: 3, groupSize: 16, symmetric: false };

/** tr(ΔHΔᵀ) with Δ = W − Q(W·diag s)·diag(s)⁻¹, Q from the float64 RTN reference. */
function scaledLoss(s: ArrayLike<number>): number {
  const q = rtnRef(scaleColumns(w, rows, cols, s), rows, cols, opts.bits, opts.groupSize, opts.symmetric);
  const d = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) d[r * cols + j] = w[r * cols + j]! - q.dequant[r * cols + j]! / s[j]!;
  return traceForm(d, rows, cols, H);
}

describe('native scaling (AWQ, SmoothQuant, OS+)', () => {
  test('AWQ α = 0 is plain RTN exactly', async () => {
    const r = await awqSearch(w, rows, cols, H, xbar, { ...opts, grid: 1, clip: false });
    assert.equal(r.alpha, 0);
    assert.ok(r.scales.every((v) => v === 1));
    const ref = rtnRef(w, rows, cols, opts.bits, opts.groupSize, opts.symmetric);
    assert.deepEqual(r.weight.codes, ref.codes);
    assert.deepEqual(r.weight.dequant, ref.dequant);
    const refLoss = scaledLoss(r.scales);
    assert.ok(Math.abs(r.losses[0]! - refLoss) <= 1e-6 * refLoss, `${r.losses[0]} vs ${refLoss}`);
  });

  test('AWQ best loss ≤ loss(α = 0) and matches a float64 recomputation', async () => {
    const r = await awqSearch(w, rows, cols, H, xbar, { ...opts, clip: false });
    assert.equal(r.losses.length, 20);
    assert.ok(r.losses[Math.round(r.alpha * 20)]! <= r.losses[0]!);
    for (const v of r.losses) assert.ok(r.losses[Math.round(r.alpha * 20)]! <= v);
    const ref = scaledLoss(awqScales(xbar, r.alpha));
    assert.ok(Math.abs(Math.min(...r.losses) - ref) <= 1e-4 * ref, `${Math.min(...r.losses)} vs ${ref}`);
  });

  test('AWQ clip: ratio 1 reproduces the unclipped result; the clip search never increases the loss', async () => {
    const one = await awqSearch(w, rows, cols, H, xbar, { ...opts, clipSteps: 1 });
    assert.ok(one.clipRatios.every((v) => v === 1));
    const ref = rtnRef(scaleColumns(w, rows, cols, one.scales), rows, cols, opts.bits, opts.groupSize, opts.symmetric);
    assert.deepEqual(one.weight.codes, ref.codes);
    const clipped = await awqSearch(w, rows, cols, H, xbar, opts);
    assert.ok(clipped.clipRatios.every((v) => v <= 1 && v >= 0.55));
    const ws = scaleColumns(w, rows, cols, clipped.scales),
      hs = scaleHessian(H, clipped.scales);
    const err = (deq: Float32Array): number =>
      traceForm(
        ws.map((v, i) => v - deq[i]!),
        rows,
        cols,
        hs,
      );
    assert.ok(err(clipped.weight.dequant) <= err(one.weight.dequant) * (1 + 1e-9));
  });

  test('scaling is exact in floating point before quantization: (x/s)(W·diag s)ᵀ = xWᵀ', () => {
    const s = awqScales(xbar, 0.5),
      ws = scaleColumns(w, rows, cols, s);
    for (let t = 0; t < 4; t++)
      for (let r = 0; r < rows; r++) {
        let a = 0,
          b = 0;
        for (let j = 0; j < cols; j++) {
          a += (x[t * cols + j]! / s[j]!) * ws[r * cols + j]!;
          b += x[t * cols + j]! * w[r * cols + j]!;
        }
        assert.ok(Math.abs(a - b) <= 1e-5 * (1 + Math.abs(b)));
      }
  });

  test('SmoothQuant scales follow max|X|^α / max|W|^(1−α) with the 1e-5 clamps', () => {
    const wmax = columnAbsMax([
      { w, rows, cols },
      { w: gaussian(3 * cols, 9), rows: 3, cols },
    ]);
    const amax = Float64Array.from(xbar, (v) => 3 * v);
    const s = smoothQuantScales(amax, wmax, 0.8);
    for (let j = 0; j < cols; j++) assert.ok(Math.abs(s[j]! - amax[j]! ** 0.8 / wmax[j]! ** 0.2) <= 1e-5 * s[j]!);
    assert.equal(smoothQuantScales([0], [0], 0.5)[0], Math.fround(1e-5));
    assert.throws(() => smoothQuantScales([1, 2], [1]), { code: 'E_SHAPE' });
  });

  test('OS+: s ≥ 1, shift+scale is FP-equivalent, shifted Hessian is exact, best ≤ the first threshold', async () => {
    const xmax = new Float64Array(cols).fill(-Infinity),
      xmin = new Float64Array(cols).fill(Infinity),
      mean = new Float64Array(cols);
    for (let t = 0; t < tokens; t++)
      for (let j = 0; j < cols; j++) {
        const v = x[t * cols + j]! + 0.7;
        xmax[j] = Math.max(xmax[j]!, v);
        xmin[j] = Math.min(xmin[j]!, v);
        mean[j] = mean[j]! + v / tokens;
      }
    const xs = x.map((v) => v + 0.7),
      Hs = hessianRef([xs], cols);
    const r = await osplusScales(w, rows, cols, Hs, xmax, xmin, { ...opts, shift: true, mean });
    assert.ok(r.scales.every((v) => v >= 1));
    assert.ok(r.losses.every((v) => r.losses[r.thresholds.indexOf(r.threshold)]! <= v));
    const shifted = xs.map((v, i) => v - r.shift[i % cols]!);
    const direct = hessianRef([shifted], cols),
      viaMean = shiftHessian(Hs, mean, r.shift);
    for (let i = 0; i < cols * cols; i++) assert.ok(Math.abs(direct[i]! - viaMean[i]!) <= 1e-3 * (1 + Math.abs(direct[i]!)));
    const ws = scaleColumns(w, rows, cols, r.scales);
    for (let t = 0; t < 3; t++)
      for (let o = 0; o < rows; o++) {
        let a = 0,
          b = 0;
        for (let j = 0; j < cols; j++) {
          a += ((xs[t * cols + j]! - r.shift[j]!) / r.scales[j]!) * ws[o * cols + j]! + r.shift[j]! * w[o * cols + j]!;
          b += xs[t * cols + j]! * w[o * cols + j]!;
        }
        assert.ok(Math.abs(a - b) <= 1e-4 * (1 + Math.abs(b)));
      }
  });

  test('bad input is rejected with coded errors; an aborted signal cancels', async () => {
    await assert.rejects(awqSearch(w, rows, cols, H, new Float64Array(cols - 1), opts), { code: 'E_SHAPE' });
    const bad = Float64Array.from(xbar);
    bad[3] = NaN;
    await assert.rejects(awqSearch(w, rows, cols, H, bad, opts), { code: 'E_NUMERIC', message: /index 3/ });
    const wn = Float32Array.from(w);
    wn[cols + 2] = Infinity;
    await assert.rejects(awqSearch(wn, rows, cols, H, xbar, opts), { code: 'E_NUMERIC', message: /row 1, column 2/ });
    await assert.rejects(awqSearch(w, rows, cols, H, xbar, { ...opts, bits: 9 }), { code: 'E_ARG' });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(awqSearch(w, rows, cols, H, xbar, opts, { signal: ac.signal }), { code: 'E_CANCELLED' });
  });
});
