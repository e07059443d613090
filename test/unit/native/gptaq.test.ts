import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gptq, gptaq, Hessian, CrossStatistic, LowbitKernelError, type GptaqOptions } from '../../../native/ts/index';
import { correlatedX, gaussian } from './linearReference';
import { crossRef, gptaqRef } from './gptaqReference';

const opts = (o: Partial<GptaqOptions>): GptaqOptions => ({ bits: 4, groupSize: -1, symmetric: false, ...o });

/** A layer with float inputs x and "quantized-prefix" inputs x̃ = x + noise (tokens×n). */
function inputs(tokens: number, n: number, seed: number, noise: number): { x: Float32Array; xq: Float32Array } {
  const x = correlatedX(tokens, n, seed);
  const e = gaussian(tokens * n, seed + 7, noise);
  return { x, xq: x.map((v, i) => v + e[i]!) };
}
async function stats(x: Float32Array, xq: Float32Array, tokens: number, n: number): Promise<{ H: Hessian; D: CrossStatistic }> {
  const H = new Hessian(n),
    D = new CrossStatistic(n);
  for (let t0 = 0; t0 < tokens; t0 += 64) {
    const t1 = Math.min(tokens, t0 + 64);
    await H.add(xq.subarray(t0 * n, t1 * n), t1 - t0);
    D.add(x.subarray(t0 * n, t1 * n), xq.subarray(t0 * n, t1 * n), t1 - t0);
  }
  return { H, D };
}
/** ‖W X − Ŵ X̃‖² over the tokens (the GPTAQ objective), in float64. */
function asymError(w: Float32Array, what: Float32Array, rows: number, n: number, x: Float32Array, xq: Float32Array): number {
  const T = x.length / n;
  let s = 0;
  for (let r = 0; r < rows; r++)
    for (let t = 0; t < T; t++) {
      let v = 0;
      for (let j = 0; j < n; j++) v += w[r * n + j]! * x[t * n + j]! - what[r * n + j]! * xq[t * n + j]!;
      s += v * v;
    }
  return s;
}

describe('native gptaq', () => {
  const rows = 16,
    n = 48,
    tokens = 160;

  test('cross statistic equals 2/N·Σ (x − x̃)x̃ᵀ, streamed in chunks', async () => {
    const { x, xq } = inputs(tokens, n, 1, 0.2);
    const { D } = await stats(x, xq, tokens, n);
    const ref = crossRef(x, xq, n);
    let max = 0;
    for (const v of ref) max = Math.max(max, Math.abs(v));
    D.matrix().forEach((v, i) => assert.ok(Math.abs(v - ref[i]!) <= 1e-5 * max, `D[${i}] ${v} vs ${ref[i]}`));
    assert.equal(D.samples, tokens);
  });

  for (const o of [
    { groupSize: -1 },
    { groupSize: 16, blockSize: 8 },
    { groupSize: 16, actOrder: true },
    { groupSize: -1, symmetric: true, bits: 3, blockSize: 8 },
  ] as Partial<GptaqOptions>[]) {
    test(`x̃ = x gives D = 0 and GPTQ bit for bit: ${JSON.stringify(o)}`, async () => {
      const x = correlatedX(tokens, n, 2);
      const { H, D } = await stats(x, x, tokens, n);
      assert.ok(D.matrix().every((v) => v === 0));
      const w = gaussian(rows * n, 12, 0.1);
      for (const fp64Updates of [false, true]) {
        const a = await gptaq(w, rows, n, H, D, opts({ ...o, fp64Updates }));
        const b = await gptq(w, rows, n, H, opts({ ...o, fp64Updates }));
        assert.deepEqual(a.codes, b.codes);
        assert.deepEqual(a.dequant, b.dequant);
        assert.deepEqual(a.scales, b.scales);
        assert.equal(a.loss, b.loss);
      }
    });
  }

  for (const o of [
    { groupSize: -1, blockSize: 128 },
    { groupSize: -1, blockSize: 8 },
    { groupSize: 16, blockSize: 128 },
    { groupSize: 24, blockSize: 8, symmetric: true, bits: 3 },
  ]) {
    test(`matches the float64 reference from the paper (fp64 updates): ${JSON.stringify(o)}`, async () => {
      const { x, xq } = inputs(tokens, n, 3, 0.3);
      const { H, D } = await stats(x, xq, tokens, n);
      const w = gaussian(rows * n, 13, 0.1);
      const got = await gptaq(w, rows, n, H, D, opts({ ...o, fp64Updates: true }));
      const ref = gptaqRef(w, rows, n, Float64Array.from(H.matrix()), Float64Array.from(D.matrix()), {
        bits: o.bits ?? 4,
        groupSize: o.groupSize,
        sym: !!o.symmetric,
        damp: 0.01,
        alpha: 0.25,
        blockSize: o.blockSize,
      });
      // Same rule in a different summation order: codes equal except on exact-tie flips (none expected here).
      assert.deepEqual(got.codes, ref.codes);
      got.dequant.forEach((v, i) => assert.ok(Math.abs(v - ref.dequant[i]!) <= 1e-6 * Math.abs(ref.dequant[i]!), `dequant[${i}]`));
      // The default fp32 lazy updates give the same codes up to rare flips.
      const f = await gptaq(w, rows, n, H, D, opts(o));
      let flips = 0;
      f.codes.forEach((c, i) => (flips += c === ref.codes[i] ? 0 : 1));
      assert.ok(flips <= 2, `${flips} code flips with fp32 updates`);
    });
  }

  test('α = 0 is GPTQ on the quantized-prefix Hessian; α > 0 lowers ‖WX − QX̃‖² below GPTQ', async () => {
    // A systematic input mismatch (x̃ = 1.05·x + noise), the case asymmetric calibration is for.
    const rr = 32,
      T = 400;
    const x = correlatedX(T, n, 4),
      e = gaussian(T * n, 11, 0.05);
    const xq = x.map((v, i) => 1.05 * v + e[i]!);
    const { H, D } = await stats(x, xq, T, n);
    const w = gaussian(rr * n, 14, 0.1);
    const zero = await gptaq(w, rr, n, H, D, opts({ bits: 3, alpha: 0 }));
    const plain3 = await gptq(w, rr, n, H, opts({ bits: 3 }));
    assert.deepEqual(zero.codes, plain3.codes);
    for (const [bits, alpha, factor] of [
      [4, 0.25, 0.95],
      [8, 1, 0.8], // near-continuous grid, full correction: towards the least-squares W·XX̃ᵀ(X̃X̃ᵀ)⁻¹
    ] as const) {
      const a = await gptaq(w, rr, n, H, D, opts({ bits, alpha }));
      const g = await gptq(w, rr, n, H, opts({ bits }));
      const ea = asymError(w, a.dequant, rr, n, x, xq),
        eg = asymError(w, g.dequant, rr, n, x, xq);
      assert.ok(ea < factor * eg, `${bits} bits α ${alpha}: gptaq ${ea} vs gptq ${eg}`);
    }
  });

  test('bad inputs: D of the wrong size, non-finite D or activations name what is wrong', async () => {
    const { x, xq } = inputs(32, 8, 5, 0.1);
    const { H } = await stats(x, xq, 32, 8);
    const w = gaussian(4 * 8, 15, 0.1);
    await assert.rejects(gptaq(w, 4, 8, H, new Float64Array(63), opts({})), /D \(8×8\)/);
    const bad = new Float64Array(64);
    bad[9] = NaN;
    await assert.rejects(
      gptaq(w, 4, 8, H, bad, opts({})),
      (e: Error) => e instanceof LowbitKernelError && /not finite at \(1, 1\)/.test(e.message),
    );
    const c = new CrossStatistic(8);
    const nan = Float32Array.from(xq);
    nan[8 * 3 + 2] = Infinity;
    assert.throws(() => c.add(x, nan, 32), /quantized-prefix activation is not finite at token 3, channel 2/);
    assert.equal(c.samples, 0);
  });
});
