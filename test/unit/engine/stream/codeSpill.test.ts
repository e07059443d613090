/**
 * The code spill (issue 11): a finished layer's codes go to disk and come back byte for byte (also
 * through the recomputing dequant getter of releaseDequant); close() removes its folder; an unwritable
 * folder is an error naming it; codes read after close are a clear error, never garbage.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { QuantizedLayer } from '../../../../engine/quantize/quantizeLayers';
import { CodeSpill } from '../../../../engine/stream/codeSpill';
import { dequantFromCodes, releaseDequant } from '../../../../engine/stream/releaseDequant';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-spill-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function layer(name: string, rows: number, cols: number, seed: number): QuantizedLayer {
  const codes = Uint8Array.from({ length: rows * cols }, (_, i) => (i * 7 + seed) % 16);
  const scales = Float32Array.from({ length: rows * (cols / 8) }, (_, i) => 0.01 + i * 1e-4);
  const zeros = Uint8Array.from({ length: rows * (cols / 8) }, (_, i) => (i + seed) % 16);
  const q = { rows, cols, bits: 4, groupSize: 8, symmetric: false, codes, scales, zeros };
  return { layer: name, q, dequant: dequantFromCodes(q)!, report: {} as QuantizedLayer['report'] };
}

test('spilled codes read back byte for byte, through the dequant getter too; close removes the folder', () => {
  const spill = new CodeSpill(dir);
  spill.open();
  const a = layer('a', 6, 16, 1),
    b = layer('b', 3, 24, 5);
  const codesA = Uint8Array.from((a.q as { codes: Uint8Array }).codes),
    codesB = Uint8Array.from((b.q as { codes: Uint8Array }).codes);
  const dequantA = Float32Array.from(a.dequant);
  assert.ok(releaseDequant(a));
  assert.ok(spill.spill(a));
  assert.ok(spill.spill(b));
  assert.equal(spill.bytes, codesA.length + codesB.length);
  assert.deepEqual((a.q as { codes: Uint8Array }).codes, codesA);
  assert.deepEqual((b.q as { codes: Uint8Array }).codes, codesB);
  assert.deepEqual(a.dequant, dequantA);
  // Element-by-element reads (as the exporter's packer does) hit the layer read last, not the disk.
  const qa = a.q as { codes: Uint8Array };
  assert.equal(qa.codes, qa.codes, 'the same array while the layer is the last one read');
  assert.notEqual((b.q as { codes: Uint8Array }).codes, qa.codes);
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('lowbit-codes-')).length, 1);
  assert.equal(spill.spill({ ...a, layer: 'no codes', q: undefined }), false);
  spill.close();
  assert.deepEqual(readdirSync(dir), []);
  assert.throws(() => (a.q as { codes: Uint8Array }).codes, /code spill: layer a's codes were read after the spill was closed/);
  spill.close(); // idempotent
});

test('an unwritable folder is an error naming it', () => {
  // A regular file where the folder should be: no one can create files in it, root included (CI runs as root).
  const notDir = join(dir, 'not-a-folder');
  writeFileSync(notDir, 'x');
  assert.throws(() => new CodeSpill(notDir).open(), new RegExp(`code spill: cannot create a file in ${notDir}: ENOTDIR`));
  assert.equal(readFileSync(notDir, 'utf8'), 'x');
  rmSync(notDir);
  // A read-only folder (only meaningful for a user without root's override).
  if (process.getuid?.() === 0) return;
  const ro = join(dir, 'ro');
  mkdirSync(ro);
  chmodSync(ro, 0o500);
  try {
    assert.throws(() => new CodeSpill(ro).open(), new RegExp(`code spill: cannot create a file in ${ro}: `));
  } finally {
    chmodSync(ro, 0o700);
    rmSync(ro, { recursive: true });
  }
});

test('a missing folder is an error naming it, and leaves nothing', () => {
  const missing = join(dir, 'missing');
  assert.throws(() => new CodeSpill(missing).open(), new RegExp(`code spill: cannot create a file in ${missing}: ENOENT`));
  assert.equal(existsSync(missing), false);
});
