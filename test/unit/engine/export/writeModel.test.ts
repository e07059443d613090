import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeModelAtomic } from '../../../../language-server/src/engine/export/writeModel';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-write-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

describe('writeModelAtomic', () => {
  const input = join(dir, 'in.onnx');
  writeFileSync(input, 'original');

  test('writes into a new folder and replaces an existing output', async () => {
    const out = join(dir, 'out', 'sub', 'm.onnx');
    await writeModelAtomic(Uint8Array.from([1, 2, 3]), out, { inputPath: input });
    assert.deepEqual([...readFileSync(out)], [1, 2, 3]);
    await writeModelAtomic(Uint8Array.from([4]), out, { inputPath: input });
    assert.deepEqual([...readFileSync(out)], [4]);
    assert.deepEqual(readdirSync(join(dir, 'out', 'sub')), ['m.onnx']);
  });

  test('refuses the input itself, also through a symlink or another spelling', async () => {
    const link = join(dir, 'link.onnx');
    symlinkSync(input, link);
    for (const out of [input, link, join(dir, '.', 'x', '..', 'in.onnx')])
      await assert.rejects(writeModelAtomic(Uint8Array.from([9]), out, { inputPath: input }), /refusing to write .*it is the input model/);
    assert.equal(readFileSync(input, 'utf8'), 'original');
  });

  test('a failed write leaves no temp file and the old output intact', async () => {
    const target = join(dir, 'adir');
    mkdirSync(join(target, 'child'), { recursive: true });
    // rename over a non-empty directory fails after the temp file was written.
    await assert.rejects(writeModelAtomic(Uint8Array.from([1]), target, { inputPath: input }), /cannot write/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    assert.ok(existsSync(join(target, 'child')));
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      await assert.rejects(writeModelAtomic(Uint8Array.from([1]), join(ro, 'm.onnx')), /cannot write/);
      assert.deepEqual(readdirSync(ro), []);
      chmodSync(ro, 0o700);
    }
    assert.equal(readFileSync(input, 'utf8'), 'original');
  });
});
