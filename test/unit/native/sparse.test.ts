import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gptq, rtn, pruneRtn, Hessian, LowbitKernelError, type GptqOptions, type SparsitySpec } from '../../../native/ts/index';
import { traceForm, gaussian, correlatedX } from './linearReference';
import { sparseGptRef, oneShotMaskRef } from './sparseReference';

const rows = 16,
  n = 64;

async function layer(seed: number): Promise<{ w: Float32Array; H: Float64Array }> {
  const h = new Hessian(n);
  await h.add(correlatedX(300, n, seed), 300);
  return { w: gaussian(rows * n, seed + 10, 0.1), H: Float64Array.from(h.matrix()) };
}
const base = (o: Partial<GptqOptions>): GptqOptions => ({ bits: 4, groupSize: -1, symmetric: false, blockSize: 16, ...o });
const SPECS: [string, SparsitySpec][] = [
  ['50%', { ratio: 0.5 }],
  ['30%', { ratio: 0.3 }],
  ['2:4', { n: 2, m: 4 }],
  ['4:8', { n: 4, m: 8 }],
];
const colNorms = (H: Float64Array) => Float64Array.from({ length: n }, (_, j) => Math.sqrt(H[j * n + j]!));

/** N of every M consecutive input columns of each row are pruned (kept = M − N). */
function assertNM(keep: Uint8Array, nPruned: number, m: number): void {
  for (let r = 0; r < rows; r++)
    for (let j = 0; j < n; j += m) {
      let kept = 0;
      for (let t = 0; t < m; t++) kept += keep[r * n + j + t]!;
      assert.equal(kept, m - nPruned, `row ${r}, columns ${j}..${j + m - 1}: ${kept} kept`);
    }
}

describe('native SparseGPT (gptq with pruning)', () => {
  for (const [name, sparsity] of SPECS)
    for (const quantize of [true, false])
      for (const groupSize of [-1, 16])
        test(`matches the float64 column-by-column reference: ${name}, ${quantize ? '4-bit' : 'float'}, group ${groupSize}`, async () => {
          const { w, H } = await layer(1);
          const got = await gptq(w, rows, n, H, base({ groupSize, sparsity, pruneOnly: !quantize }));
          const ref = sparseGptRef(w, rows, n, H, { bits: 4, groupSize, sym: false, damp: 0.01, blockSize: 16, sparsity, quantize });
          assert.deepEqual(got.keep, ref.keep);
          if (quantize) assert.deepEqual(got.codes, ref.codes);
          for (let i = 0; i < w.length; i++)
            assert.ok(Math.abs(got.dequant[i]! - ref.dequant[i]!) <= 1e-5 * Math.abs(ref.dequant[i]!) + 1e-9, `dequant[${i}]`);
          assert.ok(Math.abs(got.loss - ref.loss) <= 1e-6 * ref.loss, `loss ${got.loss} vs ${ref.loss}`);
        });

  test('pruned weights are exactly 0 with the zero-point code; the unstructured mask prunes ⌊ratio·rows·block⌋ per block', async () => {
    const { w, H } = await layer(2);
    for (const symmetric of [false, true]) {
      const r = await gptq(w, rows, n, H, base({ groupSize: 16, symmetric, sparsity: { ratio: 0.5 } }));
      for (let i = 0; i < w.length; i++)
        if (!r.keep![i]) {
          assert.equal(r.dequant[i], 0);
          assert.equal(r.codes[i], r.zeros[Math.floor(i / n) * (n / 16) + Math.floor((i % n) / 16)]);
        }
      for (let b = 0; b < n; b += 16) {
        let pruned = 0;
        for (let q = 0; q < rows; q++) for (let j = b; j < b + 16; j++) pruned += 1 - r.keep![q * n + j]!;
        assert.equal(pruned, Math.floor(0.5 * rows * 16));
      }
    }
  });

  test('2:4 and 4:8 masks keep exactly M−N of every M along the input dimension', async () => {
    const { w, H } = await layer(3);
    assertNM((await gptq(w, rows, n, H, base({ sparsity: { n: 2, m: 4 } }))).keep!, 2, 4);
    assertNM((await gptq(w, rows, n, H, base({ groupSize: 32, sparsity: { n: 4, m: 8 } }))).keep!, 4, 8);
  });

  test('sparsity 0 is GPTQ exactly', async () => {
    const { w, H } = await layer(4);
    for (const groupSize of [-1, 16]) {
      const a = await gptq(w, rows, n, H, base({ groupSize, sparsity: { ratio: 0 } }));
      const b = await gptq(w, rows, n, H, base({ groupSize }));
      assert.deepEqual(a.codes, b.codes);
      assert.deepEqual(a.dequant, b.dequant);
      assert.equal(a.keep, undefined);
    }
  });

  test('the OBS update never raises tr(ΔHΔᵀ) above the mask-only error (same mask, no update)', async () => {
    for (const seed of [5, 6, 7])
      for (const [name, sparsity] of SPECS) {
        const { w, H } = await layer(seed);
        const r = await gptq(w, rows, n, H, base({ sparsity, pruneOnly: true }));
        const upd = traceForm(
          w.map((v, i) => v - r.dequant[i]!),
          rows,
          n,
          H,
        );
        const maskOnly = traceForm(
          w.map((v, i) => (r.keep![i] ? 0 : v)),
          rows,
          n,
          H,
        );
        assert.ok(upd <= maskOnly, `seed ${seed} ${name}: updated ${upd} > mask-only ${maskOnly}`);
        assert.ok(upd < 0.9 * maskOnly, `seed ${seed} ${name}: the update should help on correlated inputs (${upd} vs ${maskOnly})`);
      }
  });

  test('bad inputs: N:M not dividing the width, ratio 1, act-order', async () => {
    const { w, H } = await layer(8);
    await assert.rejects(
      gptq(w, rows, n, H, base({ sparsity: { n: 2, m: 3 }, blockSize: 15 })),
      (e: LowbitKernelError) => e.code === 'E_SHAPE' && /multiple of 3/.test(e.message),
    );
    await assert.rejects(gptq(w, rows, n, H, base({ sparsity: { ratio: 1 } })), (e: LowbitKernelError) => e.code === 'E_ARG');
    await assert.rejects(gptq(w, rows, n, H, base({ sparsity: { ratio: 0.5 }, actOrder: true })), /act-order/);
    await assert.rejects(gptq(w, rows, n, H, base({ sparsity: { n: 4, m: 4 } })), /0 < N < M/);
  });
});

describe('native Wanda and magnitude pruning (pruneRtn)', () => {
  for (const [name, sparsity] of SPECS)
    for (const scope of ['row', 'layer'] as const)
      test(`mask matches the float64 reference, survivors are RTN of the masked weight: ${name}, ${scope}`, async () => {
        const { w, H } = await layer(9);
        for (const colScale of [colNorms(H), null]) {
          const got = await pruneRtn(w, rows, n, colScale, { bits: 4, groupSize: 16, symmetric: false, sparsity, scope });
          const keep = oneShotMaskRef(w, rows, n, colScale, sparsity, scope);
          assert.deepEqual(got.keep, keep);
          const ref = await rtn(
            w.map((v, i) => (keep[i] ? v : 0)),
            rows,
            n,
            { bits: 4, groupSize: 16, symmetric: false },
          );
          assert.deepEqual(got.codes, ref.codes);
          for (let i = 0; i < w.length; i++) assert.equal(got.dequant[i], keep[i] ? ref.dequant[i] : 0);
          if ('m' in sparsity) assertNM(got.keep, sparsity.n, sparsity.m);
        }
      });

  test('sparsity 0 is RTN exactly; pruneOnly keeps the survivors in float', async () => {
    const { w, H } = await layer(10);
    const a = await pruneRtn(w, rows, n, colNorms(H), { bits: 3, groupSize: 16, symmetric: true, sparsity: { ratio: 0 }, scope: 'row' });
    const b = await rtn(w, rows, n, { bits: 3, groupSize: 16, symmetric: true });
    assert.deepEqual(a.codes, b.codes);
    assert.deepEqual(a.dequant, b.dequant);
    const f = await pruneRtn(w, rows, n, null, {
      bits: 4,
      groupSize: -1,
      symmetric: false,
      sparsity: { ratio: 0.5 },
      scope: 'row',
      pruneOnly: true,
    });
    for (let i = 0; i < w.length; i++) assert.equal(f.dequant[i], f.keep[i] ? w[i] : 0);
  });

  test('bad inputs are named', async () => {
    const { w } = await layer(11);
    await assert.rejects(
      pruneRtn(w, rows, n, new Float64Array(3), { bits: 4, groupSize: -1, symmetric: false, sparsity: { ratio: 0.5 }, scope: 'row' }),
      /colScale has 3 values/,
    );
    await assert.rejects(
      pruneRtn(w, rows, n, null, { bits: 4, groupSize: -1, symmetric: false, sparsity: { n: 3, m: 7 }, scope: 'row' }),
      /multiple of 7/,
    );
  });
});
