/** The allocator settings of streamed jobs (native/ts/processMemory.ts) apply on glibc and are harmless no-ops elsewhere. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { returnLargeFrees, trimHeaps } from '../../../native/ts/index';

const glibc = Boolean(
  (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime,
);

test('mmap threshold and heap trim: applied on glibc, false elsewhere', () => {
  assert.equal(returnLargeFrees(1 << 20), glibc);
  assert.equal(typeof trimHeaps(), 'boolean');
  // A Float64Array of 8 MB is allocated and freed; the call still answers (and never throws) after it.
  new Float64Array(1 << 20).fill(1);
  assert.equal(typeof trimHeaps(), 'boolean');
});
