// Dual binarization (native/src/core/dualbin.cc): FDB form, 2-bit initialization, error curve
// non-increasing, and the output equals α₁b₁ + α₂b₂ with the returned parameters.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dualBinarize, fdbFromGrid } from '../../../native/ts/binaryLowRank';
import { rtn } from '../../../native/ts/index';
import { centeredLcg } from '../../fixtures/lcg';

describe('dualBinarize', () => {
  test('initial error is the 2-bit grid {−s, 0, s, 2s}; the curve never increases', async () => {
    const r = centeredLcg(3),
      rows = 10,
      cols = 100,
      g = 32;
    const w = Float32Array.from({ length: rows * cols }, () => r() + 0.1);
    const res = await dualBinarize(w, rows, cols, { groupSize: g, iters: 8 });
    // Reference initial error: nearest level of the oriented 2-bit grid per row group.
    let init = 0;
    for (let x = 0; x < rows; x++)
      for (let c0 = 0; c0 < cols; c0 += g) {
        const v = [...w.subarray(x * cols + c0, x * cols + Math.min(cols, c0 + g))];
        const lo = Math.min(0, ...v),
          hi = Math.max(0, ...v),
          s = (hi - lo) / 3;
        const a1 = Math.fround(hi >= -lo ? 2 * s : -2 * s),
          a2 = Math.fround(hi >= -lo ? -s : s);
        for (const y of v) init += Math.min(...[0, a2, a1, a1 + a2].map((l) => (y - l) ** 2));
      }
    assert.ok(Math.abs(res.errorCurve[0]! - init) < 1e-9 * init, `${res.errorCurve[0]} vs ${init}`);
    assert.equal(res.errorCurve.length, 9);
    res.errorCurve.forEach((e, i) => i && assert.ok(e <= res.errorCurve[i - 1]!, `iteration ${i} increased`));
    assert.ok(res.errorCurve.at(-1)! < res.errorCurve[0]!, 'refit improves on the 2-bit start');
    let err = 0;
    const ng = Math.ceil(cols / g);
    w.forEach((v, i) => {
      const x = Math.floor(i / cols),
        gi = Math.floor((i % cols) / g);
      const q = (res.b1[i] ? res.alphas[(x * ng + gi) * 2]! : 0) + (res.b2[i] ? res.alphas[(x * ng + gi) * 2 + 1]! : 0);
      assert.equal(res.dequant[i], Math.fround(q));
      err += (v - q) ** 2;
    });
    assert.ok(Math.abs(err - res.errorCurve.at(-1)!) < 1e-6 * err);
    assert.ok(Math.abs(res.bitsStored - (2 + (ng * 64) / cols)) < 1e-12);
  });

  test('thread count does not change the result', async () => {
    const r = centeredLcg(4),
      w = Float32Array.from({ length: 64 * 256 }, r);
    const a = await dualBinarize(w, 64, 256, { threads: 1 });
    const b = await dualBinarize(w, 64, 256, { threads: 2 });
    assert.deepEqual(a.dequant, b.dequant);
    assert.deepEqual(a.errorCurve, b.errorCurve);
  });

  test('init: a 2-bit RTN grid in FDB form is reproduced exactly with iters 0, and refit from there never gets worse', async () => {
    const r = centeredLcg(5),
      rows = 6,
      cols = 70,
      g = 32;
    const w = Float32Array.from({ length: rows * cols }, () => r() + 0.2 * r());
    const q = await rtn(w, rows, cols, { bits: 2, groupSize: g, symmetric: false });
    const init = fdbFromGrid(q.codes, q.scales, q.zeros, rows, cols, g);
    const start = await dualBinarize(w, rows, cols, { groupSize: g, iters: 0, init });
    assert.deepEqual([...start.dequant], [...q.dequant], 'FDB form of the 2-bit grid decodes to the same weights');
    let err = 0;
    w.forEach((v, i) => (err += (v - q.dequant[i]!) ** 2));
    assert.ok(Math.abs(start.errorCurve[0]! - err) < 1e-9 * err);
    const refit = await dualBinarize(w, rows, cols, { groupSize: g, iters: 5, init });
    refit.errorCurve.forEach((e, i) => i && assert.ok(e <= refit.errorCurve[i - 1]!));
    assert.ok(refit.errorCurve.at(-1)! < err);
    assert.throws(() => fdbFromGrid(q.codes, q.scales, q.zeros.subarray(1), rows, cols, g), /scales\/zeros rows×groups/);
  });
});
