import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { rtn, LowbitKernelError } from '../../../native/ts/index';
import { rtnRef, gaussian } from './linearReference';

const configs = [
  { bits: 4, groupSize: -1, symmetric: false },
  { bits: 4, groupSize: -1, symmetric: true },
  { bits: 4, groupSize: 32, symmetric: false },
  { bits: 3, groupSize: 32, symmetric: true },
  { bits: 2, groupSize: 16, symmetric: false },
  { bits: 8, groupSize: 64, symmetric: true },
  { bits: 4, groupSize: 32, symmetric: false, mseClip: true },
  { bits: 3, groupSize: -1, symmetric: true, mseClip: true },
];

describe('native rtn', () => {
  // 172 columns: not a multiple of 32/16/64 (ragged last group), like stories260K's hidden size.
  const rows = 24,
    cols = 172;
  const w = gaussian(rows * cols, 7, 0.05);
  for (let i = 0; i < rows; i++) w[i * cols + (i % cols)] = 0; // exact zeros
  for (let c = 0; c < cols; c++) w[3 * cols + c] = Math.abs(w[3 * cols + c]!); // an all-non-negative row
  w.fill(0, 5 * cols, 6 * cols); // an all-zero row

  for (const cfg of configs) {
    test(`bit-exact vs float64 reference: ${JSON.stringify(cfg)}`, async () => {
      const q = await rtn(w, rows, cols, cfg);
      const ref = rtnRef(w, rows, cols, cfg.bits, cfg.groupSize, cfg.symmetric, !!cfg.mseClip);
      assert.equal(q.groupSize, ref.groupSize);
      assert.deepEqual(q.scales, ref.scales);
      assert.deepEqual(q.zeros, ref.zeros);
      assert.deepEqual(q.codes, ref.codes);
      assert.deepEqual(q.dequant, ref.dequant);
      const maxq = 2 ** cfg.bits - 1,
        ng = Math.ceil(cols / q.groupSize);
      assert.equal(q.scales.length, rows * ng);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c,
            k = r * ng + Math.floor(c / q.groupSize);
          assert.ok(q.codes[i]! <= maxq);
          assert.equal(q.dequant[i], Math.fround(q.scales[k]! * (q.codes[i]! - q.zeros[k]!)), 'dequant = s·(q−z) in fp32');
          if (w[i] === 0) assert.equal(q.dequant[i], 0, `0 → 0 at ${r},${c}`);
          if (cfg.symmetric) assert.equal(q.zeros[k], 2 ** (cfg.bits - 1));
          // Unclipped values (inside the grid's range) are within half a step.
          const lo = q.scales[k]! * (0 - q.zeros[k]!),
            hi = q.scales[k]! * (maxq - q.zeros[k]!);
          if (w[i]! >= lo && w[i]! <= hi)
            assert.ok(
              Math.abs(w[i]! - q.dequant[i]!) <= q.scales[k]! / 2 + 2 ** -23 * Math.abs(q.dequant[i]!),
              `|w−ŵ| ≤ s/2 (+ fp32 rounding of ŵ) at ${r},${c}`,
            );
        }
    });
  }

  // Exact up to the fp32 rounding of ŵ and of the recomputed scale (GPTQ-style symmetric grids are not
  // idempotent: their range max|ŵ| = s·2^(b−1) differs from the original max|w| = s·maxq/2).
  test('asymmetric RTN is idempotent: RTN(ŵ) = ŵ (same codes and zero points, ŵ within fp32 rounding)', async () => {
    for (const groupSize of [-1, 32]) {
      const q = await rtn(w, rows, cols, { bits: 4, groupSize, symmetric: false });
      const q2 = await rtn(q.dequant, rows, cols, { bits: 4, groupSize, symmetric: false });
      assert.deepEqual(q2.codes, q.codes);
      assert.deepEqual(q2.zeros, q.zeros);
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(q2.dequant[i]! - q.dequant[i]!) <= 4e-7 * Math.abs(q.dequant[i]!), `ŵ at ${i}`);
    }
  });

  test('results do not depend on the thread count, progress reports completion', async () => {
    const seen: number[][] = [];
    const a = await rtn(w, rows, cols, { bits: 4, groupSize: 32, symmetric: false }, { threads: 1 });
    const b = await rtn(
      w,
      rows,
      cols,
      { bits: 4, groupSize: 32, symmetric: false },
      { threads: 2, onProgress: (d, t) => seen.push([d, t]) },
    );
    assert.deepEqual(a, b);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen.at(-1), [rows, rows]);
  });

  test('bad input is rejected with clear coded errors', async () => {
    const bad = Float32Array.from(w);
    bad[2 * cols + 5] = NaN;
    await assert.rejects(
      rtn(bad, rows, cols, { bits: 4, groupSize: 32, symmetric: false }),
      (e: LowbitKernelError) => e.code === 'E_NUMERIC' && /row 2, column 5/.test(e.message),
    );
    await assert.rejects(
      rtn(w, rows, cols, { bits: 9, groupSize: 32, symmetric: false }),
      (e: LowbitKernelError) => e.code === 'E_ARG' && /bits/.test(e.message),
    );
    await assert.rejects(
      rtn(w, rows, cols, { bits: 4, groupSize: 0, symmetric: false }),
      (e: LowbitKernelError) => e.code === 'E_ARG' && /groupSize/.test(e.message),
    );
    await assert.rejects(
      rtn(w, rows + 1, cols, { bits: 4, groupSize: 32, symmetric: false }),
      (e: LowbitKernelError) => e.code === 'E_SHAPE',
    );
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(
      rtn(w, rows, cols, { bits: 4, groupSize: 32, symmetric: false }, { signal: ac.signal }),
      (e: LowbitKernelError) => e.code === 'E_CANCELLED',
    );
  });
});
