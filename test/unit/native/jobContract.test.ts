// The one async-job contract of the native kernels (native/src/binding/kernel_worker.h, native/ts/job.ts)
// across the three families — linear (rtn/gptq), binarization (billm), scaling (awqSearch/scaleSearch):
// progress as (done, total), cancellation through an AbortSignal, E_ARG for wrong typed arrays, and
// zero-copy inputs left untouched.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon } from '../../../native/ts/addon';
import { gptq, rtn, type LowbitKernelError } from '../../../native/ts/index';
import { type NativeJobControl, runNativeJob } from '../../../native/ts/job';
import { billm } from '../../../native/ts/binaryLowRank';
import { awqSearch, scaleSearch } from '../../../native/ts/scaling';
import { correlatedX, gaussian, hessianRef } from './linearReference';

type Kernel = (...args: unknown[]) => Promise<unknown>;
interface Addon {
  lbCreateToken(): unknown;
  lbCancel(token: unknown): void;
  rtn: Kernel;
  gptq: Kernel;
  billm: Kernel;
  scaleSearch: Kernel;
}
const addon = (): Addon => loadAddon<Addon>('lbCreateToken');

const grid = { bits: 4, groupSize: 32, symmetric: false };
const rows = 32,
  cols = 128;
const w = gaussian(rows * cols, 3, 0.05);
const H = hessianRef([correlatedX(256, cols, 4)], cols);
const xbar = Float64Array.from({ length: cols }, (_, j) => 0.5 + (j % 7) / 7);
const candidates = (k: number): Float64Array => Float64Array.from({ length: k * cols }, (_, i) => 1 + (i % 13) / 13);

/** Asserts ticks are (done, total) pairs, done ≤ total, done non-decreasing and total constant. */
function assertProgress(ticks: [number, number][], what: string): void {
  assert.ok(ticks.length > 0, `${what}: no progress`);
  ticks.forEach(([done, total], i) => {
    assert.ok(Number.isInteger(done) && Number.isInteger(total) && done >= 0 && done <= total, `${what}: tick ${i} = ${done}/${total}`);
    if (i > 0) {
      assert.ok(done >= ticks[i - 1]![0], `${what}: progress went back at tick ${i}`);
      assert.equal(total, ticks[i - 1]![1], `${what}: total changed at tick ${i}`);
    }
  });
}

/** Progress ticks are delivered before the promise settles; one more turn makes sure none is pending. */
const drain = (): Promise<void> => new Promise((r) => setImmediate(r));

/** E_ARG whose message names the argument. */
const argError =
  (name: string) =>
  (e: unknown): boolean => {
    const err = e as LowbitKernelError;
    return err.code === 'E_ARG' && new RegExp(`\\b${name}\\b`).test(err.message);
  };

describe('native async-job contract', () => {
  test('progress arrives as (done, total), monotone, for each family', async () => {
    const linear: [number, number][] = [];
    await gptq(w, rows, cols, H, { ...grid, blockSize: 16 }, { onProgress: (d, t) => linear.push([d, t]) });
    await drain();
    assertProgress(linear, 'gptq');
    assert.deepEqual(linear.at(-1), [cols, cols]);

    const quick: [number, number][] = [];
    await rtn(w, rows, cols, grid, { onProgress: (d, t) => quick.push([d, t]) });
    await drain();
    assertProgress(quick, 'rtn');

    // Binarization: the binding reports (done, total); lowbit.ts turns it into a fraction.
    const bin: [number, number][] = [];
    await runNativeJob('billm', { onProgress: (d, t) => bin.push([d, t]) }, (c) => addon().billm(w, rows, cols, H, { blockSize: 16 }, c));
    await drain();
    assertProgress(bin, 'billm');
    assert.deepEqual(bin.at(-1), [cols / 16, cols / 16]);
    const fractions: number[] = [];
    await billm(w, rows, cols, H, { blockSize: 16, onProgress: (f) => fractions.push(f) });
    await drain();
    assert.deepEqual(
      fractions,
      bin.map(([d, t]) => d / t),
    );

    const scaling: [number, number][] = [];
    await awqSearch(w, rows, cols, H, xbar, { ...grid, grid: 6 }, { onProgress: (d, t) => scaling.push([d, t]) });
    await drain();
    assertProgress(scaling, 'awqSearch');
    assert.deepEqual(scaling.at(-1), [6, 6]);
  });

  test('an AbortSignal raised mid-run rejects each family with E_CANCELLED', async () => {
    const big = 512,
      wb = gaussian(256 * big, 8);
    const Hb = new Float64Array(big * big);
    for (let i = 0; i < big; i++) Hb[i * big + i] = 1 + (i % 5);
    const cancelled = (e: unknown): boolean => (e as LowbitKernelError).code === 'E_CANCELLED';

    let ac = new AbortController();
    await assert.rejects(gptq(wb, 256, big, Hb, { ...grid, blockSize: 1 }, { signal: ac.signal, onProgress: () => ac.abort() }), cancelled);

    ac = new AbortController();
    const a = ac;
    await assert.rejects(billm(wb, 256, big, Hb, { blockSize: 8, signal: a.signal, onProgress: () => a.abort() }), cancelled);

    ac = new AbortController();
    const s = ac;
    await assert.rejects(scaleSearch(wb, 256, big, Hb, candidates(64), grid, { signal: s.signal, onProgress: () => s.abort() }), cancelled);
  });

  test('a cancelled token stops each family at its first check', async () => {
    for (const [what, start] of [
      ['rtn', (c: NativeJobControl) => addon().rtn(w, rows, cols, grid, c)],
      ['gptq', (c: NativeJobControl) => addon().gptq(w, rows, cols, H, grid, c)],
      ['billm', (c: NativeJobControl) => addon().billm(w, rows, cols, H, {}, c)],
      ['scaleSearch', (c: NativeJobControl) => addon().scaleSearch(w, rows, cols, H, candidates(2), 2, grid, c)],
    ] as const) {
      await assert.rejects(
        runNativeJob(what, undefined, (c) => {
          addon().lbCancel(c.token);
          return start(c);
        }),
        (e: LowbitKernelError) => e.code === 'E_CANCELLED' && e.message.startsWith(`${what}: `),
        what,
      );
    }
  });

  test('a wrong typed-array type is rejected with E_ARG naming the argument, for each family', async () => {
    await assert.rejects(gptq(w, rows, cols, Float32Array.from(H) as unknown as Float64Array, grid), argError('H'));
    await assert.rejects(billm(Float64Array.from(w) as unknown as Float32Array, rows, cols, H), argError('w'));
    await assert.rejects(billm(w, rows, cols, Float32Array.from(H) as unknown as Float64Array), argError('H'));
    await assert.rejects(
      scaleSearch(w, rows, cols, H, Float32Array.from(candidates(2)) as unknown as Float64Array, grid),
      argError('candidates'),
    );
    await assert.rejects(awqSearch(Float64Array.from(w) as unknown as Float32Array, rows, cols, H, xbar, grid), argError('w'));
  });

  test('the bindings re-check types and lengths (E_ARG naming the argument)', () => {
    const n = addon(),
      ctl = { token: n.lbCreateToken() };
    const short = new Float64Array(cols * cols - 1);
    assert.throws(() => n.rtn(new Float64Array(rows * cols), rows, cols, grid, ctl), argError('w'));
    assert.throws(() => n.rtn(w.subarray(1), rows, cols, grid, ctl), argError('w'));
    assert.throws(() => n.gptq(w, rows, cols, short, grid, ctl), argError('H'));
    assert.throws(() => n.billm(w, rows, cols, short, {}, ctl), argError('H'));
    assert.throws(() => n.billm(w.subarray(1), rows, cols, H, {}, ctl), argError('w'));
    assert.throws(() => n.scaleSearch(w, rows, cols, H, candidates(2), 3, grid, ctl), argError('candidates'));
    assert.throws(() => n.scaleSearch(w, rows, cols, short, candidates(2), 2, grid, ctl), argError('H'));
    // The control object is checked too: a foreign token or a non-function progress is an E_ARG.
    assert.throws(() => n.rtn(w, rows, cols, grid, { token: {} }), argError('token'));
    assert.throws(() => n.rtn(w, rows, cols, grid, { onProgress: 1 }), argError('onProgress'));
    assert.throws(() => n.rtn(w, rows, cols, { ...grid, bits: '4' }, ctl), argError('bits'));
  });

  test('gptq reads its inputs in place and leaves them unmodified (act order, dead columns)', async () => {
    const h = Float64Array.from(H);
    for (const dead of [3, 40, 77]) for (let j = 0; j < cols; j++) h[dead * cols + j] = h[j * cols + dead] = 0;
    const w0 = Float32Array.from(w),
      h0 = Float64Array.from(h);
    const r = await gptq(w, rows, cols, h, { ...grid, actOrder: true, staticGroups: true, damp: 0.05 });
    assert.deepEqual(w, w0);
    assert.deepEqual(h, h0);
    // Results own their memory: a second run gives equal, independent arrays.
    const again = await gptq(w, rows, cols, h, { ...grid, actOrder: true, staticGroups: true, damp: 0.05 });
    assert.deepEqual(again.dequant, r.dequant);
    again.dequant[0] = again.dequant[0]! + 1;
    assert.notEqual(again.dequant[0], r.dequant[0]);
  });
});
