/**
 * The worker pool behind every kernel's fork-join (native/src/core/parallel.cc): kernels started at
 * once from JS run on several libuv threads and share the pool's workers (a fork never waits for a
 * free worker; the caller runs chunks itself), and each result equals the one the kernel gives alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Hessian, gptq, rtn, type QuantizedWeight } from '../../../native/ts/index';
import { correlatedX, gaussian } from './linearReference';

test('kernels run concurrently give the results they give one at a time', async () => {
  const n = 384,
    rows = 96;
  const h = new Hessian(n);
  await h.add(correlatedX(768, n, 5), 768);
  const ws = [1, 2, 3, 4].map((s) => gaussian(rows * n, 30 + s, 0.1));
  const jobs = [
    () => gptq(ws[0]!, rows, n, h, { bits: 4, groupSize: 128, symmetric: false }),
    () => gptq(ws[1]!, rows, n, h, { bits: 3, groupSize: -1, symmetric: true, actOrder: true }, { threads: 3 }),
    () => gptq(ws[2]!, rows, n, h, { bits: 4, groupSize: 64, symmetric: false, fp64Updates: true }),
    () => rtn(ws[3]!, rows, n, { bits: 4, groupSize: 32, symmetric: false }, { threads: 2 }),
  ];
  const alone: QuantizedWeight[] = [];
  for (const job of jobs) alone.push(await job());
  for (let round = 0; round < 3; round++) {
    const together = await Promise.all(jobs.map((job) => job()));
    together.forEach((r, i) => {
      assert.deepEqual(r.codes, alone[i]!.codes, `job ${i}, round ${round}: codes`);
      assert.deepEqual(r.dequant, alone[i]!.dequant, `job ${i}, round ${round}: dequant`);
      assert.deepEqual(r.scales, alone[i]!.scales, `job ${i}, round ${round}: scales`);
    });
  }
  // A Hessian accumulated while a solve runs equals one accumulated alone.
  const x = correlatedX(256, n, 9);
  const h1 = new Hessian(n);
  await h1.add(x, 256);
  const h2 = new Hessian(n);
  await Promise.all([jobs[0]!(), h2.add(x, 256), jobs[3]!()]);
  assert.deepEqual(h2.matrix(), h1.matrix());
});
