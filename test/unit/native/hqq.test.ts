import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { hqq, rtn, LowbitKernelError } from '../../../native/ts/index';
import { loadModel } from '../../../engine/onnx';
import { gaussian } from './linearReference';
import { hqqRef, meanAbsError, shrinkLpRef } from './hqqReference';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const modelPath = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K', 'model.onnx');

const defaults = { iterations: 20, lpNorm: 0.7, beta: 10, kappa: 1.01 };

/** Heavy-tailed weights (Student-t-like), where the lp shrinkage matters. */
function heavyTailed(n: number, seed: number): Float32Array {
  const a = gaussian(n, seed, 0.02),
    b = gaussian(n, seed + 1, 1);
  return a.map((v, i) => v / Math.max(0.3, Math.abs(b[i]!)));
}

function checkMonotone(objective: number[], what: string): void {
  for (let i = 1; i < objective.length; i++)
    assert.ok(objective[i]! < objective[i - 1]!, `${what}: objective rose at iteration ${i}: ${objective}`);
}

describe('native hqq', () => {
  test('shrink_lp: soft thresholding for p = 1, the generalized form for p < 1, odd in x', () => {
    // The native operator is checked through the kernel; the reference is checked on known values.
    assert.equal(shrinkLpRef(0.5, 10, 1), 0.4);
    assert.equal(Math.abs(shrinkLpRef(-0.05, 10, 1)), 0);
    assert.ok(Math.abs(shrinkLpRef(1, 10, 0.7) - 0.9) < 1e-12);
    assert.equal(shrinkLpRef(0, 10, 0.7), 0);
    assert.equal(shrinkLpRef(-2, 4, 0.5), -shrinkLpRef(2, 4, 0.5));
  });

  const rows = 16,
    cols = 172; // ragged last group at g32, like stories260K
  const w = heavyTailed(rows * cols, 11);
  for (const cfg of [
    { bits: 4, groupSize: 32, integerZero: false },
    { bits: 4, groupSize: 32, integerZero: true },
    { bits: 3, groupSize: 64, integerZero: false },
    { bits: 2, groupSize: -1, integerZero: true },
    { bits: 4, groupSize: 32, integerZero: false, lpNorm: 1, kappa: 1.05 },
  ]) {
    test(`matches the float64 reference, objective never increases: ${JSON.stringify(cfg)}`, async () => {
      const o = { ...defaults, ...cfg };
      const r = await hqq(w, rows, cols, o);
      const ref = hqqRef(w, rows, cols, o);
      assert.equal(r.iterations, ref.iterations, 'accepted iterations');
      assert.equal(r.objective.length, ref.objective.length);
      for (let i = 0; i < ref.objective.length; i++)
        assert.ok(
          Math.abs(r.objective[i]! - ref.objective[i]!) <= 1e-9 * ref.objective[0]!,
          `objective[${i}] ${r.objective[i]} vs ${ref.objective[i]}`,
        );
      checkMonotone(r.objective, 'native');
      assert.deepEqual(
        Array.from(r.scales),
        Array.from(ref.scales, (v) => Math.fround(v)),
      );
      for (let i = 0; i < ref.zeros.length; i++)
        assert.ok(
          Math.abs(r.zeroPoints[i]! - ref.zeros[i]!) <= 1e-4 * (1 + Math.abs(ref.zeros[i]!)),
          `zero ${i}: ${r.zeroPoints[i]} vs ${ref.zeros[i]}`,
        );
      // The returned weight is what codes/scales/zeros say, and no worse than its min-max start.
      const g = r.groupSize,
        ng = Math.ceil(cols / g),
        maxq = 2 ** o.bits - 1;
      for (let i = 0; i < rows * cols; i++) {
        const k = Math.floor(i / cols) * ng + Math.floor((i % cols) / g);
        assert.ok(r.codes[i]! <= maxq);
        assert.equal(r.dequant[i], Math.fround(r.scales[k]! * (r.codes[i]! - r.zeros[k]!)));
      }
      if (o.integerZero) assert.ok(r.zeros instanceof Uint8Array);
      assert.ok(Math.abs(r.final - meanAbsError(w, r.dequant)) < 1e-9);
      assert.ok(r.final <= r.initial * (1 + 1e-6), `final ${r.final} vs start ${r.initial}`);
    });
  }

  test('improves on RTN with the same min-max start (real-valued zeros), deterministic over threads', async () => {
    const o = { bits: 3, groupSize: 32, ...defaults, integerZero: false };
    const a = await hqq(w, rows, cols, o, { threads: 1 });
    const b = await hqq(w, rows, cols, o, { threads: 4 });
    assert.deepEqual(a.codes, b.codes);
    assert.deepEqual(a.objective, b.objective);
    assert.ok(a.iterations >= 1, 'at least one iteration accepted');
    assert.ok(a.final < a.initial, `HQQ ${a.final} vs its start ${a.initial}`);
    const q = await rtn(w, rows, cols, { bits: 3, groupSize: 32, symmetric: false });
    assert.ok(a.final < meanAbsError(w, q.dequant), 'HQQ beats RTN on mean|ΔW|');
  });

  test('iterations 0 returns the min-max start', async () => {
    const r = await hqq(w, rows, cols, { bits: 4, groupSize: 32, ...defaults, iterations: 0 });
    assert.equal(r.iterations, 0);
    assert.equal(r.objective.length, 1);
    assert.ok(Math.abs(r.final - r.initial) <= 1e-6 * r.initial, 'the fp32 dequantized start');
  });

  test('integer zero points start from RTN exactly and never end worse than RTN', async () => {
    for (const [bits, groupSize] of [
      [4, 32],
      [3, -1],
      [2, 16],
    ] as const) {
      const q = await rtn(w, rows, cols, { bits, groupSize, symmetric: false });
      const start = await hqq(w, rows, cols, { bits, groupSize, ...defaults, iterations: 0 });
      assert.deepEqual(start.codes, q.codes);
      assert.deepEqual(start.zeros, q.zeros);
      assert.deepEqual(start.scales, q.scales);
      const r = await hqq(w, rows, cols, { bits, groupSize, ...defaults });
      assert.ok(
        r.final <= meanAbsError(w, q.dequant) * (1 + 1e-9),
        `${bits}-bit g${groupSize}: ${r.final} vs RTN ${meanAbsError(w, q.dequant)}`,
      );
    }
  });

  test('bad inputs are rejected with the position named', async () => {
    const bad = Float32Array.from(w);
    bad[3 * cols + 5] = NaN;
    await assert.rejects(
      hqq(bad, rows, cols, { bits: 4, groupSize: 32 }),
      (e: LowbitKernelError) => e.code === 'E_NUMERIC' && /row 3, column 5/.test(e.message),
    );
    await assert.rejects(hqq(w, rows, cols, { bits: 4, groupSize: 32, lpNorm: 1.5 }), /lp norm/);
    await assert.rejects(hqq(w, rows, cols, { bits: 4, groupSize: 32, kappa: 0.5 }), /kappa/);
  });

  test(
    'real stories260K weights: objective never increases, every layer no worse than its start',
    { skip: existsSync(modelPath) ? false : 'stories260K missing' },
    async () => {
      const model = await loadModel(modelPath);
      for (const name of ['layers.0.wq', 'layers.2.w2', 'layers.4.w1', 'layers.3.wo']) {
        const { data, rows: m, cols: n } = model.getWeight(name);
        for (const integerZero of [false, true]) {
          const r = await hqq(data, m, n, { bits: 4, groupSize: 32, ...defaults, integerZero });
          checkMonotone(r.objective, name);
          assert.ok(r.final <= r.initial * (1 + 1e-6), `${name}: ${r.final} vs ${r.initial}`);
          if (!integerZero) assert.ok(r.final < r.initial, `${name}: HQQ improved nothing`);
        }
      }
    },
  );
});
