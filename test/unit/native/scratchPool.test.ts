/**
 * GPTQ's large work buffers (the default fp32 solve's accumulator S and factor V; the fp64 solve's W
 * copy and factor U) and the kernels' result arrays come from process-wide pools
 * (native/src/core/scratch.cc): reused buffers hold the previous call's data, and the results must not
 * depend on it; releaseScratch() / trimHeaps() free what the pools hold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hessian, gptq, releaseScratch, trimHeaps } from '../../../native/ts/index';
import { correlatedX, gaussian } from './linearReference';

const MiB = 1 << 20;

test('pooled scratch: a reused (dirty) buffer gives the fresh-buffer result; release frees the pool', async () => {
  const n = 1024;
  const h = new Hessian(n);
  await h.add(correlatedX(512, n, 3), 512);
  // At least the solve's two large buffers; the span's Δ and the GEMM's packed operands of 2 MiB and
  // more are pooled too.
  for (const [rows, fp64Updates, pooled] of [
    [2 * n, false, 8 + 4], // fp32 S (2n×n floats) and the fp32 factor V
    [n, true, 8 + 8], // fp64 W copy and the factor U
  ] as const) {
    const w = gaussian(rows * n, 4, 0.1);
    const other = gaussian(rows * n, 5, 1);
    const o = { bits: 3, groupSize: 128, symmetric: false, fp64Updates };
    releaseScratch();
    const fresh = await gptq(w, rows, n, h, o);
    const released = releaseScratch();
    assert.ok(released >= pooled * MiB, `the solve's work buffers were pooled (${released} bytes released)`);
    assert.equal(releaseScratch(), 0, 'the pool is empty after a release');
    await gptq(other, rows, n, h, { ...o, bits: 2 }); // leaves other data in the pooled buffers
    const reused = await gptq(w, rows, n, h, o);
    assert.deepEqual(reused.codes, fresh.codes);
    assert.deepEqual(reused.dequant, fresh.dequant);
    assert.deepEqual(reused.scales, fresh.scales);
    assert.equal(reused.loss, fresh.loss);
  }
  trimHeaps();
  assert.equal(releaseScratch(), 0, 'trimHeaps frees the pool too');
});

test('pooled scratch: LOWBIT_SCRATCH_MB=0 keeps nothing (checked in a child process)', async () => {
  const { execFileSync } = await import('node:child_process');
  const script = `
    const { Hessian, gptq, releaseScratch } = require(${JSON.stringify(require.resolve('../../../native/ts/index'))});
    (async () => {
      const n = 1024, h = new Hessian(n);
      await h.add(new Float32Array(64 * n).map((_, i) => Math.sin(i)), 64);
      await gptq(new Float32Array(n * n).map((_, i) => Math.cos(i)), n, n, h, { bits: 4, groupSize: 128, symmetric: false });
      console.log(releaseScratch());
    })();`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, LOWBIT_SCRATCH_MB: '0', LOWBIT_OUTPUT_POOL_MB: '0' },
  });
  assert.equal(out.trim(), '0');
});

test('result arrays go back to the output pool when JS frees them, and reused (dirty) ones give the fresh result', async () => {
  // A child with --expose-gc: the typed arrays' finalizers run after a collection, on the JS thread.
  const { execFileSync } = await import('node:child_process');
  const script = `
    const { Hessian, gptq, releaseScratch } = require(${JSON.stringify(require.resolve('../../../native/ts/index'))});
    // V8 frees a collected ArrayBuffer's memory (and so runs the native deleter) after the collection,
    // possibly on a background thread: collect and wait until something comes back (≤ 5 s).
    const collect = async (until) => {
      for (let i = 0; i < 250; i++) {
        global.gc();
        await new Promise((r) => setTimeout(r, 20));
        if (until()) return;
      }
    };
    (async () => {
      const n = 1024, rows = 1024, h = new Hessian(n);
      await h.add(new Float32Array(64 * n).map((_, i) => Math.sin(i)), 64);
      const w = new Float32Array(rows * n).map((_, i) => Math.cos(i));
      const o = { bits: 4, groupSize: 128, symmetric: false };
      const fresh = await gptq(w, rows, n, h, o);
      releaseScratch();
      await gptq(w.map((v) => 3 * v + 1), rows, n, h, { ...o, bits: 3 }).then(() => null);
      let pooled = 0; // only results: LOWBIT_SCRATCH_MB=0
      await collect(() => (pooled = releaseScratch()) > 0);
      let same = true;
      for (let round = 0; round < 3; round++) {
        // Dirty data into the pool, then the first result again, most likely on the dirty memory.
        await gptq(w.map((v) => -v - round), rows, n, h, { ...o, bits: 2 }).then(() => null);
        let k = 0;
        await collect(() => ++k >= 10);
        const again = await gptq(w, rows, n, h, o);
        same &&= ['codes', 'dequant', 'scales', 'zeros'].every((key) => Buffer.compare(
          Buffer.from(fresh[key].buffer, fresh[key].byteOffset, fresh[key].byteLength),
          Buffer.from(again[key].buffer, again[key].byteOffset, again[key].byteLength)) === 0);
      }
      console.log(JSON.stringify({ pooled, same }));
    })();`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, LOWBIT_SCRATCH_MB: '0' },
  });
  const { pooled, same } = JSON.parse(out.trim()) as { pooled: number; same: boolean };
  // codes (1 MiB, under the 2 MiB pooled size) stay with malloc; dequant (4 MiB) comes back.
  assert.ok(pooled >= 4 * MiB, `the freed result arrays were pooled (${pooled} bytes)`);
  assert.ok(same, 'a result written into reused pool memory equals the fresh one');
});
