/**
 * The job's export step writes by streaming: an input with external data gives an output with its own
 * `<output>.data` (reported so that a failed job can remove it), sizes count both files, and an input
 * without external data stays one file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportAndWrite, toResult } from '../../../engine/exportStep';
import { loadModel } from '../../../engine/onnx/model';
import { encodeModel } from '../../../engine/onnx/onnxProto';
import type { QuantizedLayer } from '../../../engine/quantize/quantizeLayers';
import { assertClose, model, reference, runFile, W1, writeExternalInput } from './export/streamingFixtures';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-step-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** W1 rounded to 1/8, as a fake-quant result (W [out, in]). */
const newW1 = W1.map((v) => Math.round(v * 8) / 8);
const layer = {
  layer: 'W1',
  dequant: Float32Array.from({ length: 64 * 32 }, (_, i) => newW1[(i % 64) * 32 + Math.floor(i / 64)]),
  report: { bits_per_weight: 4 },
} as unknown as QuantizedLayer;

describe('exportAndWrite', () => {
  test('an input with external data → output with <output>.data; bytes count both files; onnxruntime runs it from its path', async () => {
    mkdirSync(join(dir, 'a'));
    const input = join(dir, 'a', 'in.onnx');
    const m = await writeExternalInput(input);
    const outputPath = join(dir, 'a', 'out', 'q.onnx');
    const r = await exportAndWrite(m, [layer], { format: 'fake', outputPath, modelPath: input });
    assert.equal(r.dataPath, `${outputPath}.data`);
    assert.equal(r.bytes, statSync(outputPath).size + statSync(r.dataPath!).size);
    assertClose(await runFile(outputPath), reference(newW1));
  });

  test("a streamed layer's recomputing dequant getter is read once, by the exporter, not up front (issue 11)", async () => {
    mkdirSync(join(dir, 'lazy'));
    const input = join(dir, 'lazy', 'in.onnx');
    const m = await writeExternalInput(input);
    let reads = 0;
    const lazy = { ...layer } as QuantizedLayer;
    Object.defineProperty(lazy, 'dequant', {
      get: () => {
        reads++;
        return Float32Array.from(layer.dequant);
      },
    });
    // Building the exporter's results reads nothing (else every layer's weight is in memory at once).
    const results = [toResult(lazy), toResult(lazy)];
    assert.equal(reads, 0);
    assert.equal(results[0].dequant.length, 64 * 32);
    assert.equal(reads, 1);
    reads = 0;
    const outputPath = join(dir, 'lazy', 'q.onnx');
    await exportAndWrite(m, [lazy], { format: 'fake', outputPath, modelPath: input });
    assert.equal(reads, 1);
    assertClose(await runFile(outputPath), reference(newW1));
  });

  test('an input without external data stays one file', async () => {
    mkdirSync(join(dir, 'b'));
    const input = join(dir, 'b', 'in.onnx');
    writeFileSync(input, encodeModel(model()));
    const outputPath = join(dir, 'b', 'q.onnx');
    const r = await exportAndWrite(await loadModel(input), [layer], { format: 'fake', outputPath, modelPath: input });
    assert.equal(r.dataPath, undefined);
    assert.equal(existsSync(`${outputPath}.data`), false);
    assert.equal(r.bytes, statSync(outputPath).size);
    assertClose(await runFile(outputPath), reference(newW1));
  });
});
