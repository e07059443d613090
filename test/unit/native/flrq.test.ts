// FLRQ (native/src/core/flrq.cc, lowrank_common.cc): the symmetric absmax quantizer bit-exact
// against a float64 reference, x = 0 ⇒ rank 0 ⇒ plain quantization, BLC best-so-far monotone and
// equal to tr(ΔHΔᵀ) of the returned factors, storage accounting; the GPTQ residual quantizer
// (quantizer 'gptq') against the GPTQ / RTN wrappers (native/ts/index.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gptq, rtn } from '../../../native/ts/index';
import { flrq, lorc, quantizeSymAbsmax } from '../../../native/ts/binaryLowRank';
import { centeredLcg } from '../../fixtures/lcg';

function roundHalfEven(x: number): number {
  const f = Math.floor(x),
    d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}
/** Planted rank-2 structure with channel outliers plus noise (out×in). */
function lowRankWeight(rows: number, cols: number, r: () => number): Float32Array {
  const a = Array.from({ length: rows }, r),
    b = Array.from({ length: cols }, r);
  const c = Array.from({ length: rows }, r),
    d = Array.from({ length: cols }, r);
  return Float32Array.from({ length: rows * cols }, (_, i) => {
    const x = Math.floor(i / cols),
      y = i % cols;
    return 4 * a[x]! * b[y]! + 2 * c[x]! * d[y]! + 0.05 * r();
  });
}
/** 2·XᵀX/T for T tokens whose channels share a few latent factors (strongly correlated H). */
function correlatedHessian(cols: number, r: () => number, T = 256, factors = 3): Float64Array {
  const mix = Array.from({ length: factors * cols }, r),
    H = new Float64Array(cols * cols),
    x = new Float64Array(cols);
  for (let t = 0; t < T; t++) {
    const z = Array.from({ length: factors }, r);
    for (let i = 0; i < cols; i++) {
      x[i] = 0.1 * r();
      for (let f = 0; f < factors; f++) x[i]! += z[f]! * mix[f * cols + i]!;
    }
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 * x[i]! * x[j]!) / T;
  }
  return H;
}
function trErr(w: Float32Array, approx: Float64Array, H: Float64Array | null, rows: number, cols: number): number {
  let s = 0;
  for (let x = 0; x < rows; x++)
    for (let i = 0; i < cols; i++) {
      const di = w[x * cols + i]! - approx[x * cols + i]!;
      if (!H) {
        s += di * di;
        continue;
      }
      for (let j = 0; j < cols; j++) s += di * H[i * cols + j]! * (w[x * cols + j]! - approx[x * cols + j]!);
    }
  return s;
}

describe('quantizeSymAbsmax', () => {
  test('codes match the float64 reference bit-exactly (ragged groups, half-even rounding)', () => {
    const r = centeredLcg(1),
      rows = 6,
      cols = 150,
      g = 64;
    for (const bits of [2, 3, 4, 8]) {
      const w = Float64Array.from({ length: rows * cols }, r);
      w[5] = 0.5;
      w[6] = -0.5; // exercise ties after scaling in some groups
      const q = quantizeSymAbsmax(w, rows, cols, bits, g, false);
      const qmax = 2 ** (bits - 1) - 1,
        ng = Math.ceil(cols / g);
      for (let x = 0; x < rows; x++)
        for (let gi = 0; gi < ng; gi++) {
          const c0 = gi * g,
            c1 = Math.min(cols, c0 + g);
          let amax = 0;
          for (let c = c0; c < c1; c++) amax = Math.max(amax, Math.abs(w[x * cols + c]!));
          const s = Math.fround(amax / qmax);
          assert.equal(q.scales[x * ng + gi], s);
          for (let c = c0; c < c1; c++) {
            const code = Math.min(qmax, Math.max(-qmax, roundHalfEven(w[x * cols + c]! / s)));
            assert.equal(q.codes[x * cols + c], code + 2 ** (bits - 1), `bits ${bits} row ${x} col ${c}`);
            assert.ok(q.dequant[x * cols + c] === s * code);
          }
        }
    }
  });

  test('clip search never increases a group error', () => {
    const r = centeredLcg(2),
      w = Float64Array.from({ length: 8 * 128 }, () => r() ** 3);
    const plain = quantizeSymAbsmax(w, 8, 128, 3, 128, false),
      clip = quantizeSymAbsmax(w, 8, 128, 3, 128, true);
    for (let x = 0; x < 8; x++) {
      let ep = 0,
        ec = 0;
      for (let c = 0; c < 128; c++) {
        ep += (w[x * 128 + c]! - plain.dequant[x * 128 + c]!) ** 2;
        ec += (w[x * 128 + c]! - clip.dequant[x * 128 + c]!) ** 2;
      }
      assert.ok(ec <= ep, `row ${x}`);
    }
  });
});

describe('flrq', () => {
  test('budget x = 0 gives rank 0, i.e. plain quantization', async () => {
    const r = centeredLcg(3),
      rows = 24,
      cols = 80,
      w = lowRankWeight(rows, cols, r);
    const res = await flrq(w, rows, cols, null, null, { bits: 3, groupSize: 32, budget: 0 });
    assert.equal(res.rank, 0);
    assert.equal(res.L.length, 0);
    const plain = quantizeSymAbsmax(Float64Array.from(w), rows, cols, 3, 32, true);
    assert.deepEqual(res.codes, plain.codes);
    assert.equal(res.details.rel_error_after, res.details.rel_error_before);
    assert.equal(res.details.storage_overhead, 0);
  });

  test('finds low-rank structure; BLC best-so-far is monotone and matches tr(ΔHΔᵀ)', async () => {
    const r = centeredLcg(4),
      rows = 48,
      cols = 64,
      w = lowRankWeight(rows, cols, r);
    const T = 200,
      X = Float64Array.from({ length: T * cols }, r),
      H = new Float64Array(cols * cols);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 * X[t * cols + i]! * X[t * cols + j]!) / T;
    const act = Float32Array.from({ length: cols }, () => 0.5 + Math.abs(r()));
    const res = await flrq(w, rows, cols, H, act, { bits: 2, groupSize: 32, budget: 2, slope: 0, blcEpochs: 4 });
    assert.ok(res.rank >= 1, `rank ${res.rank}`);
    assert.ok(res.details.rel_error_after < res.details.rel_error_before);
    assert.equal(res.blcBest.length, 5);
    res.blcBest.forEach((e, i) => i && assert.ok(e <= res.blcBest[i - 1]!));
    const approx = Float64Array.from(res.dequant);
    for (let x = 0; x < rows; x++)
      for (let k = 0; k < res.rank; k++)
        for (let c = 0; c < cols; c++) approx[x * cols + c]! += res.L[x * res.rank + k]! * res.R[k * cols + c]!;
    const e = trErr(w, approx, H, rows, cols),
      best = res.blcBest.at(-1)!;
    assert.ok(Math.abs(e - best) < 1e-4 * best, `${e} vs ${best}`);
    assert.ok(Math.abs(res.details.storage_overhead - (16 * res.rank * (rows + cols)) / (2 * rows * cols)) < 1e-12);
    // Dequant is the MatMulNBits form: (code − 2^(b−1))·scale.
    const ng = Math.ceil(cols / 32);
    for (let i = 0; i < rows * cols; i++)
      assert.ok(res.dequant[i] === Math.fround((res.codes[i]! - 2) * res.scales[Math.floor(i / cols) * ng + Math.floor((i % cols) / 32)]!));
  });

  // GPTQ's symmetric grid: s = 2·amax/(2^b − 1), zero 2^(b−1), codes in [0, 2^b − 1] (quantizer
  // 'gptq'); the absmax grid of quantizer 'rtn' is s = c·amax/(2^(b−1) − 1), codes in [1, 2^b − 1].
  const GPTQ_SYM = { bits: 3, groupSize: 32, symmetric: true, damp: 0.01, blockSize: 128, actOrder: true, staticGroups: true };

  test("quantizer 'gptq' at rank 0 (x = 0) is exactly GPTQ's symmetric act-order result on the same W and H", async () => {
    const r = centeredLcg(5),
      rows = 24,
      cols = 80,
      w = lowRankWeight(rows, cols, r),
      H = correlatedHessian(cols, r);
    const act = Float32Array.from({ length: cols }, () => 0.5 + Math.abs(r()));
    const res = await flrq(w, rows, cols, H, act, { bits: 3, groupSize: 32, budget: 0, blcEpochs: 2, quantizer: 'gptq', threads: 2 });
    const ref = await gptq(w, rows, cols, H, GPTQ_SYM, { threads: 2 });
    assert.equal(res.rank, 0);
    assert.ok(
      ref.zeros.every((z) => z === 4),
      'GPTQ symmetric zero point is 2^(b−1)',
    );
    assert.deepEqual(res.codes, ref.codes);
    assert.deepEqual(res.scales, ref.scales);
    assert.deepEqual(res.dequant, ref.dequant);
    assert.ok(res.codes.includes(0), 'the GPTQ grid reaches code 0 (−2^(b−1)·s), which the absmax grid never does');
    const ng = Math.ceil(cols / 32); // ragged last group (16 columns)
    for (let i = 0; i < rows * cols; i++)
      assert.ok(
        res.dequant[i] === Math.fround((res.codes[i]! - 4) * res.scales[Math.floor(i / cols) * ng + Math.floor((i % cols) / 32)]!),
        `dequant ${i}`,
      );
    assert.equal(res.details.rel_error_after, res.details.rel_error_before);
  });

  test("with H = c·I, quantizer 'gptq' is RTN on GPTQ's symmetric grid (not the absmax grid of 'rtn')", async () => {
    const r = centeredLcg(6),
      rows = 16,
      cols = 96,
      w = lowRankWeight(rows, cols, r),
      H = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) H[i * cols + i] = 3;
    const g = await flrq(w, rows, cols, H, null, { bits: 3, groupSize: 32, budget: 0, quantizer: 'gptq' });
    const ref = await rtn(w, rows, cols, { bits: 3, groupSize: 32, symmetric: true });
    assert.deepEqual(g.codes, ref.codes);
    assert.deepEqual(g.scales, ref.scales);
    const a = await flrq(w, rows, cols, H, null, { bits: 3, groupSize: 32, budget: 0, quantizer: 'rtn', clipSearch: false });
    assert.notDeepEqual(a.scales, g.scales, 'absmax scale amax/3 vs GPTQ-symmetric 2·amax/7');
  });

  test("quantizer 'gptq' with rank > 0: dequant is (code − 2^(b−1))·scale, BLC stays monotone, bad inputs are rejected", async () => {
    const r = centeredLcg(7),
      rows = 48,
      cols = 64,
      w = lowRankWeight(rows, cols, r),
      H = correlatedHessian(cols, r);
    const res = await flrq(w, rows, cols, H, null, { bits: 3, groupSize: 32, budget: 2, slope: 0, blcEpochs: 3, quantizer: 'gptq' });
    assert.ok(res.rank >= 1, `rank ${res.rank}`);
    res.blcBest.forEach((e, i) => i && assert.ok(e <= res.blcBest[i - 1]!));
    const ng = cols / 32;
    for (let i = 0; i < rows * cols; i++)
      assert.ok(res.dequant[i] === Math.fround((res.codes[i]! - 4) * res.scales[Math.floor(i / cols) * ng + Math.floor((i % cols) / 32)]!));
    assert.ok(res.details.rel_error_after < res.details.rel_error_before);
    await assert.rejects(flrq(w, rows, cols, null, null, { quantizer: 'gptq' }), /needs the Hessian/);
    await assert.rejects(flrq(w, rows, cols, H, null, { quantizer: 'awq' as never }), /quantizer must be/);
  });

  test("lorc with quantizer 'gptq' and rank 0 is GPTQ's symmetric result", async () => {
    const r = centeredLcg(8),
      rows = 16,
      cols = 64,
      w = lowRankWeight(rows, cols, r),
      H = correlatedHessian(cols, r);
    const res = await lorc(w, rows, cols, H, { bits: 3, groupSize: 32, rank: 0, quantizer: 'gptq', threads: 2 });
    const ref = await gptq(w, rows, cols, H, GPTQ_SYM, { threads: 2 });
    assert.deepEqual(res.codes, ref.codes);
    assert.deepEqual(res.dequant, ref.dequant);
  });

  test('cancellation rejects with E_CANCELLED', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(flrq(new Float32Array(4), 2, 2, null, null, { signal: ac.signal }), { code: 'E_CANCELLED' });
  });
});
