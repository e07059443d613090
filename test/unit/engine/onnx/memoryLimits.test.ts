/**
 * Models that cannot be held in memory give a clear error naming the file (and tensor), before any
 * large allocation: a file over the memory budget, an external tensor larger than Node can allocate
 * (a sparse > 4 GiB data file, so nothing is really written), and inlining external data past the
 * 2 GiB protobuf limit or the budget.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../../../engine/onnx/model';
import { OnnxFormatError } from '../../../../engine/onnx/protobuf';
import { encode, externalFloatTensor, matmulModel, randn } from './tinyModels';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-mem-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Writes a MatMul model whose W [K, N] lives in `data` (created sparse with `dataBytes`, or with `bytes`). */
function externalModel(name: string, K: number, N: number, data: { bytes?: Uint8Array; dataBytes?: number }): string {
  const w = externalFloatTensor('W', [K, N], `${name}.data`);
  if (data.bytes) writeFileSync(join(dir, `${name}.data`), data.bytes);
  else {
    const fd = openSync(join(dir, `${name}.data`), 'w');
    ftruncateSync(fd, data.dataBytes!);
    closeSync(fd);
  }
  const p = join(dir, `${name}.onnx`);
  writeFileSync(p, encode(matmulModel(K, N, w)));
  return p;
}
const clear = (re: RegExp) => (e: Error) => e instanceof OnnxFormatError && re.test(e.message);

describe('memory limits: clear errors instead of crashes', () => {
  test('a model file over the memory budget is refused naming the file', async () => {
    const p = join(dir, 'small.onnx');
    writeFileSync(p, encode(matmulModel(64, 64)));
    await assert.rejects(
      loadModel(p, { maxBytes: 1000 }),
      clear(/small\.onnx: \d+ bytes is more than the 1000 bytes of memory available to load it/),
    );
    assert.equal((await loadModel(p)).getWeight('W').rows, 64);
  });

  test('an external tensor over the budget is refused naming file and tensor; within it, it loads', async () => {
    const w = randn(256 * 128);
    const p = externalModel('ext', 256, 128, { bytes: new Uint8Array(w.buffer) });
    const m = await loadModel(p, { maxBytes: 64 * 1024 });
    assert.throws(
      () => m.getWeight('W'),
      clear(/ext\.onnx: tensor 'W' needs 131072 bytes of external data from ext\.data, more than the 65536 bytes of memory available/),
    );
    assert.throws(() => m.serialize(), clear(/ext\.onnx: inlining its 131072 bytes of external data needs more than the 65536 bytes/));
    const ok = await loadModel(p);
    assert.equal(ok.getWeight('W').data[1], w[128]);
  });

  test('a tensor larger than Node can allocate (sparse 4 GiB data file) and > 2 GiB inlining: errors, nothing read', async () => {
    const K = 32768,
      N = 32769; // 4 GiB + 128 KiB of float32
    const p = externalModel('huge', K, N, { dataBytes: K * N * 4 });
    const m = await loadModel(p);
    assert.equal(m.layers[0].name, 'W');
    assert.throws(
      () => m.getWeight('W'),
      clear(/huge\.onnx: tensor 'W' needs 4295098368 bytes of external data from huge\.data, more than the \d+ bytes of memory available/),
    );
    assert.throws(
      () => m.serialize(),
      clear(/huge\.onnx: with its 4295098368 bytes of external data the model is larger than one protobuf can be \(2 GiB\)/),
    );
  });
});
