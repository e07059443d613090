/**
 * releaseDequant really lets go of the released fp32 weight (issue 11's block-start creep): after the
 * swap no object — the getter's closure included — may keep the array alive. A getter made in the
 * function that checked the array shared its closure context and kept every layer's weight (4 bytes a
 * weight) until the end of the job. Checked with a WeakRef and a forced full GC.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'node:test';
import type { QuantizedLayer } from '../../../../engine/quantize/quantizeLayers';
import { dequantFromCodes, releaseDequant } from '../../../../engine/stream/releaseDequant';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function layer(rows: number, cols: number): QuantizedLayer {
  const codes = Uint8Array.from({ length: rows * cols }, (_, i) => (i * 5 + 3) % 16);
  const scales = Float32Array.from({ length: rows * (cols / 8) }, (_, i) => 0.02 + i * 1e-4);
  const zeros = Uint8Array.from({ length: rows * (cols / 8) }, (_, i) => i % 16);
  const q = { rows, cols, bits: 4, groupSize: 8, symmetric: false, codes, scales, zeros };
  const dequant = dequantFromCodes(q)!;
  // The kernel's result object holds the same array (as native.gptq's does).
  return { layer: 'l', q: { ...q, dequant }, dequant, report: {} as QuantizedLayer['report'] };
}

/** Releases the layer's dequant and returns a WeakRef to the released array (no strong reference kept here). */
function release(l: QuantizedLayer): { ref: WeakRef<Float32Array>; copy: Float32Array } {
  const d = l.dequant;
  const copy = Float32Array.from(d);
  assert.ok(releaseDequant(l));
  return { ref: new WeakRef(d), copy };
}

test('the released dequant is garbage: nothing, the getter included, keeps it', async () => {
  const l = layer(64, 32);
  const { ref, copy } = release(l);
  for (let i = 0; i < 3 && ref.deref(); i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  assert.equal(ref.deref(), undefined, 'the released fp32 array is still reachable');
  // The getter still gives the same values, recomputed.
  assert.deepEqual(l.dequant, copy);
  assert.notEqual(l.dequant, l.dequant, 'each read recomputes (nothing cached)');
});
