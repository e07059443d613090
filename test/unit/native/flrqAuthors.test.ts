// FLRQ as the authors' code does it (native/src/core/flrq_rank_authors.cc, lowrank_common.cc's
// 'gptq_asym'; docs/decisions.md "FLRQ revisited"): the rank rule replayed by a float64 reference on
// the returned amax curve (every stop condition, and no early stop), factors on the fp8 e5m2 / fp16
// grids (checked against an independent e5m2 rounding), the activation scales, and the asymmetric
// GPTQ residual quantizer against the GPTQ wrapper.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gptq } from '../../../native/ts/index';
import { flrq, lorc } from '../../../native/ts/binaryLowRank';
import { roundToHalf } from '../../../engine/onnx/tensor';
import { centeredLcg } from '../../fixtures/lcg';

function roundHalfEven(x: number): number {
  const f = Math.floor(x),
    d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}
/** fp8 e5m2 from its definition: 1 sign, 5 exponent (bias 15), 2 mantissa bits; min normal 2^-14, max 57344. */
function e5m2(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const quantum = 2 ** (Math.max(e, -14) - 2);
  const r = roundHalfEven(x / quantum) * quantum;
  return Math.max(-57344, Math.min(57344, r));
}

/** The authors' rank rule (get_best_sketch_fp8_ret) replayed on an amax curve w_0 … w_tried. */
const reasonsSeen = new Set<string>();
function authorsRank(
  curve: number[],
  rows: number,
  cols: number,
  bits: number,
  x: number,
  iters: number,
  maxRank: number,
): { keep: number; stopAt: number } {
  const w0 = curve[0]!,
    tried = curve.length - 1;
  let keep = 0,
    stopAt = -1;
  for (let i = 0; i < tried; i++) {
    const wi = curve[i + 1]!;
    const K = 1 + (12 * (i + 1) * (rows + cols)) / (bits * rows * cols),
      Q = (bits + Math.log2(w0 / wi)) / bits;
    if (i >= 16 && (curve[i - 15]! - wi) / curve[i - 15]! < 0.1) {
      keep = i - 8;
      stopAt = i;
      reasonsSeen.add('window');
      break;
    }
    if (K > 1 + x) {
      keep = i;
      stopAt = i;
      reasonsSeen.add('budget');
      break;
    }
    if (K >= Q && i > iters) {
      keep = i - 1;
      stopAt = i;
      reasonsSeen.add('k ≥ q');
      break;
    }
    keep = i;
  }
  if (stopAt < 0) assert.equal(tried, Math.min(maxRank, rows, cols), 'no stop condition held, so every allowed rank was tried');
  else assert.equal(stopAt, tried - 1, 'the kernel stopped right where the rule says');
  if (tried > 0 && keep === 0) keep = 1;
  if (keep > 0 && ((w0 - curve[keep]!) / w0 < 0.1 || w0 <= curve[keep]!)) {
    keep = 0;
    reasonsSeen.add('under 10%');
  }
  return { keep, stopAt };
}

/** Slowly decaying spectrum plus a few strong directions (out×in). */
function spectrumWeight(rows: number, cols: number, r: () => number, strong: number, decay: number, boost = 6): Float32Array {
  const w = new Float32Array(rows * cols);
  for (let k = 0; k < Math.min(rows, cols); k++) {
    const s = (k < strong ? boost : 1) * Math.exp(-decay * k),
      u = Array.from({ length: rows }, r),
      v = Array.from({ length: cols }, r);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w[i * cols + j]! += s * u[i]! * v[j]!;
  }
  return w;
}

describe("FLRQ with the authors' rank rule (rankRule 'authors')", () => {
  test('e5m2 reference sanity: grid spacing, ties to even, subnormals, saturation', () => {
    assert.equal(e5m2(1.1), 1);
    assert.equal(e5m2(1.125), 1); // tie between 1 and 1.25 → even mantissa (1)
    assert.equal(e5m2(1.375), 1.5); // tie between 1.25 and 1.5 → even (1.5)
    assert.equal(e5m2(-3.3), -3.5);
    assert.equal(e5m2(2 ** -15 * 1.4), 2 ** -16 * 3); // subnormal quantum 2^-16
    assert.equal(e5m2(1e6), 57344);
  });

  const cases = [
    { name: 'planted strong directions, budget 1', rows: 48, cols: 64, bits: 3, x: 1, strong: 3, decay: 0.05, seed: 11 },
    { name: 'tight budget 0.2 (a 64×64 layer affords one rank)', rows: 64, cols: 64, bits: 3, x: 0.2, strong: 2, decay: 0.1, seed: 12 },
    {
      name: 'no budget (x = 0): still rank 1 unless amax drops under 10%',
      rows: 32,
      cols: 40,
      bits: 4,
      x: 0,
      strong: 1,
      decay: 0.02,
      seed: 13,
    },
    {
      name: 'flat spectrum at 8 bits, large budget: the 16-rank window or k ≥ q stops it',
      rows: 40,
      cols: 48,
      bits: 8,
      x: 4,
      strong: 0,
      decay: 0.0,
      seed: 14,
    },
    { name: 'fast decay at 2 bits, large budget', rows: 56, cols: 36, bits: 2, x: 4, strong: 4, decay: 0.4, seed: 15 },
    {
      name: 'one huge direction, then a flat spectrum: the 16-rank window stops it',
      rows: 200,
      cols: 300,
      bits: 2,
      x: 4,
      strong: 1,
      decay: 0,
      seed: 16,
      boost: 2000,
    },
  ];
  for (const c of cases) {
    test(`rank = the rule replayed on the returned amax curve: ${c.name}`, async () => {
      const r = centeredLcg(c.seed),
        w = spectrumWeight(c.rows, c.cols, r, c.strong, c.decay, c.boost);
      const res = await flrq(w, c.rows, c.cols, null, null, {
        bits: c.bits,
        groupSize: 16,
        budget: c.x,
        sketchIters: 8,
        rankRule: 'authors',
        blcEpochs: 0,
        threads: 2,
      });
      const { keep } = authorsRank(res.details.curve, c.rows, c.cols, c.bits, c.x, 8, 64);
      assert.equal(res.rank, keep, `curve ${res.details.curve.map((v) => v.toPrecision(4)).join(' ')}`);
      // L columns are unit vectors rounded to e5m2; R rows σ·p rounded (p to e5m2, then σ·p to fp16).
      for (const v of res.L) assert.equal(v, e5m2(v), `L entry ${v} is not on the e5m2 grid`);
      assert.deepEqual(res.R, roundToHalf(res.R), 'R entries are fp16 values');
      for (let k = 0; k < res.rank; k++) {
        let n = 0;
        for (let i = 0; i < c.rows; i++) n += res.L[i * res.rank + k]! ** 2;
        assert.ok(Math.abs(Math.sqrt(n) - 1) < 0.15, `L column ${k} is a rounded unit vector (norm ${Math.sqrt(n)})`);
      }
    });
  }

  test('the cases above reach every stop condition of the rule', () => {
    for (const reason of ['window', 'budget', 'k ≥ q'])
      assert.ok(reasonsSeen.has(reason), `no case stopped by '${reason}' (saw ${[...reasonsSeen].join(', ')})`);
  });

  test('the amax after the kept ranks is what the factors leave (W − L·R), and rank 1 is forced at x = 0', async () => {
    const rows = 24,
      cols = 32,
      r = centeredLcg(21),
      w = spectrumWeight(rows, cols, r, 1, 0.3);
    const res = await flrq(w, rows, cols, null, null, { bits: 3, groupSize: 16, budget: 0, rankRule: 'authors', blcEpochs: 0 });
    assert.equal(res.rank, 1, 'x = 0 still keeps one rank when it lowers amax by 10% or more');
    let amax = 0;
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) amax = Math.max(amax, Math.abs(w[i * cols + j]! - res.L[i]! * res.R[j]!));
    // The kernel subtracts the fp16-rounded product in double; L·R here is float32 of the same values.
    assert.ok(Math.abs(amax - res.details.curve[1]!) < 1e-5 * res.details.curve[0]!, `${amax} vs ${res.details.curve[1]}`);
  });

  test('activation scaling uses x̄^e / sqrt(max·min): a global factor on x̄ changes nothing', async () => {
    const rows = 32,
      cols = 48,
      r = centeredLcg(22),
      w = spectrumWeight(rows, cols, r, 2, 0.1);
    const act = Float32Array.from({ length: cols }, () => 0.2 + Math.abs(r()));
    const opts = { bits: 3, groupSize: 16, budget: 1, rankRule: 'authors' as const, blcEpochs: 0, actExponent: 2.4 };
    const a = await flrq(w, rows, cols, null, act, opts);
    const b = await flrq(
      w,
      rows,
      cols,
      null,
      act.map((v) => v * 4),
      opts,
    );
    assert.equal(a.rank, b.rank);
    assert.ok(a.rank > 0);
    // The curve is on the scaled matrix: amax_0 = max |w_ij · s_j| with the authors' normalization.
    const p = Array.from(act, (v) => v ** 2.4),
      norm = Math.sqrt(Math.max(...p) * Math.min(...p));
    let amax0 = 0;
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) amax0 = Math.max(amax0, Math.abs(w[i * cols + j]! * (p[j]! / norm)));
    assert.ok(Math.abs(a.details.curve[0]! - amax0) < 1e-6 * amax0, `${a.details.curve[0]} vs ${amax0}`);
    for (let i = 0; i < a.details.curve.length; i++)
      assert.ok(Math.abs(a.details.curve[i]! - b.details.curve[i]!) < 1e-9 * a.details.curve[0]!);
  });
});

describe("the asymmetric GPTQ residual quantizer ('gptq_asym')", () => {
  /** 2·XᵀX/T with correlated channels. */
  function hessian(cols: number, r: () => number, T = 200): Float64Array {
    const mix = Array.from({ length: 3 * cols }, r),
      H = new Float64Array(cols * cols),
      x = new Float64Array(cols);
    for (let t = 0; t < T; t++) {
      const z = [r(), r(), r()];
      for (let i = 0; i < cols; i++) x[i] = 0.1 * r() + z[0]! * mix[i]! + z[1]! * mix[cols + i]! + z[2]! * mix[2 * cols + i]!;
      for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 * x[i]! * x[j]!) / T;
    }
    return H;
  }

  test("at rank 0 it is GPTQ's asymmetric MSE-clip, act-order-off result; zero points come back and dequant = (q − z)·s", async () => {
    const r = centeredLcg(31),
      rows = 20,
      cols = 80,
      w = spectrumWeight(rows, cols, r, 2, 0.2),
      H = hessian(cols, r);
    const res = await lorc(w, rows, cols, H, { bits: 3, groupSize: 32, rank: 0, quantizer: 'gptq_asym', threads: 2 });
    const ref = await gptq(
      w,
      rows,
      cols,
      H,
      { bits: 3, groupSize: 32, symmetric: false, mseClip: true, damp: 0.01, blockSize: 128 },
      { threads: 2 },
    );
    assert.deepEqual(res.codes, ref.codes);
    assert.deepEqual(res.scales, ref.scales);
    assert.deepEqual(res.zeros, ref.zeros);
    assert.ok(!ref.zeros.every((z) => z === 4), 'asymmetric zero points vary');
    const ng = Math.ceil(cols / 32);
    for (let i = 0; i < rows * cols; i++) {
      const g = Math.floor(i / cols) * ng + Math.floor((i % cols) / 32);
      assert.equal(res.dequant[i], Math.fround((res.codes[i]! - res.zeros![g]!) * res.scales[g]!), `dequant ${i}`);
    }
  });

  test('FLRQ with it: dequant + L·R beats the plain quantizer on tr(ΔHΔᵀ); without H it is refused', async () => {
    const r = centeredLcg(32),
      rows = 48,
      cols = 64,
      w = spectrumWeight(rows, cols, r, 3, 0.1),
      H = hessian(cols, r);
    const res = await flrq(w, rows, cols, H, null, { bits: 3, groupSize: 32, budget: 1, rankRule: 'authors', quantizer: 'gptq_asym' });
    assert.ok(res.rank >= 1 && res.zeros);
    assert.ok(
      res.details.rel_error_after < res.details.rel_error_before,
      `${res.details.rel_error_after} vs ${res.details.rel_error_before}`,
    );
    await assert.rejects(flrq(w, rows, cols, null, null, { quantizer: 'gptq_asym' }), /needs the Hessian/);
    await assert.rejects(flrq(w, rows, cols, H, null, { rankRule: 'paper' as never }), /rankRule must be/);
  });
});
