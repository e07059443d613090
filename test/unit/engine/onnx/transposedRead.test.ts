/**
 * A MatMul weight stored [in, out] in external data is read in chunks straight into W [out, in]
 * (model.ts transposedFromFile, issue 11): the same values as the inline model's weight, fp32 and fp16,
 * across several chunks (16 MiB each), and the same clear error when it passes the memory available.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../../../engine/onnx/model';
import { DT, floatToHalf, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { encode, externalFloatTensor, matmulModel, randn } from './tinyModels';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-transposed-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Writes the same [K, N] weight as an inline model and as an external-data model; returns both paths. */
function pair(name: string, K: number, N: number, dtype: 'float32' | 'float16'): { inline: string; external: string } {
  const w = randn(K * N, 7);
  const inline = join(dir, `${name}-inline.onnx`);
  const external = join(dir, `${name}.onnx`);
  writeFileSync(inline, encode(matmulModel(K, N, makeFloatTensor('W', [K, N], w, dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT))));
  const t = externalFloatTensor('W', [K, N], `${name}.data`);
  if (dtype === 'float32') writeFileSync(join(dir, `${name}.data`), new Uint8Array(w.buffer));
  else {
    t.dataType = DT.FLOAT16;
    t.externalData = t.externalData.map((e) => (e.key === 'length' ? { ...e, value: String(K * N * 2) } : e));
    writeFileSync(join(dir, `${name}.data`), new Uint8Array(Uint16Array.from(w, floatToHalf).buffer));
  }
  writeFileSync(external, encode(matmulModel(K, N, t)));
  return { inline, external };
}

describe('transposed external weights are read in chunks', () => {
  for (const dtype of ['float32', 'float16'] as const) {
    // fp32: 2100 rows of 2048 values, 17.2 MB: two chunks of whole rows. fp16: one chunk.
    const [K, N] = dtype === 'float32' ? [2100, 2048] : [300, 200];
    test(`${dtype}: the same W [out, in] as the inline model${dtype === 'float32' ? ', over two chunks' : ''}`, async () => {
      const p = pair(`w-${dtype}`, K, N, dtype);
      const a = (await loadModel(p.inline)).getWeight('W');
      const b = (await loadModel(p.external)).getWeight('W');
      assert.deepEqual([b.rows, b.cols], [N, K]);
      assert.deepEqual([a.rows, a.cols], [b.rows, b.cols]);
      let diff = 0;
      for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) diff++;
      assert.equal(diff, 0);
    });
  }

  test('a weight past the memory available is refused naming file, tensor and data file', async () => {
    const p = pair('budget', 64, 48, 'float32');
    const m = await loadModel(p.external, { maxBytes: 4096 });
    assert.throws(
      () => m.getWeight('W'),
      (e: Error) =>
        /budget\.onnx: tensor 'W' needs 12288 bytes of external data from budget\.data, more than the 4096 bytes/.test(e.message),
    );
  });
});
