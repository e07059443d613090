// The README example's model and data, independent of the native kernels: the 9 MatMul layers of
// PP-OCRv4 rec rounded per output channel (float64 reference RTN), written by the engine's exporter
// (fake-quant), evaluated with evaluateImages on examples/ocr/eval (CER FP vs compressed + agreement).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel } from '../../../engine/onnx/model';
import { exportModel } from '../../../engine/export/exportModel';
import { evaluateImages } from '../../../engine/tasks/evaluateImages';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';
import { PADDLE_REC_INPUT } from '../../../engine/data/images';
import { rtnRows } from './rtnReference';

const evalDir = resolve(__dirname, '../../../examples/ocr/eval');

describe('PP-OCRv4 rec: FP vs per-channel RTN on its MatMul layers', () => {
  test('8-bit keeps CER; 2-bit breaks it; agreement tracks the damage', async () => {
    const fpPath = paddleOcrAsset('ch_PP-OCRv4_rec_infer.onnx');
    const model = await loadModel(fpPath);
    const mm = model.layers.filter((l) => l.quantizable && l.op === 'MatMul');
    assert.equal(mm.length, 9);
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-rec-'));
    const ev = {
      kind: 'images' as const,
      path: evalDir,
      labelsPath: join(evalDir, 'labels.tsv'),
      samples: 20,
      image: PADDLE_REC_INPUT,
      metrics: ['cer' as const, 'output_agreement' as const],
    };
    const run = async (bits: number) => {
      const out = join(dir, `rec-w${bits}.onnx`);
      writeFileSync(
        out,
        exportModel(
          model,
          mm.map((l) => {
            const w = model.getWeight(l.name);
            return { layer: l.name, dequant: rtnRows(w.data, w.rows, w.cols, bits) };
          }),
          { format: 'fake' },
        ).bytes,
      );
      return evaluateImages(ev, fpPath, out, { threads: 2 });
    };
    const r8 = await run(8);
    const r2 = await run(2);
    assert.equal(r8.samples.length, 20);
    assert.ok(r8.fp.cer! < 0.05, `FP CER ${r8.fp.cer}: ${JSON.stringify(r8.samples.map((s) => s.fp))}`);
    assert.ok(r8.quantized.cer! <= r8.fp.cer! + 0.01, `8-bit CER ${r8.quantized.cer}`);
    assert.ok(r8.outputAgreement!.cosine > 0.999, `8-bit cosine ${r8.outputAgreement!.cosine}`);
    assert.ok(r2.quantized.cer! > r8.quantized.cer!, `2-bit CER ${r2.quantized.cer} should exceed 8-bit ${r8.quantized.cer}`);
    assert.ok(r2.outputAgreement!.sqnr_db < r8.outputAgreement!.sqnr_db);
    console.log(
      `# rec CER FP ${r8.fp.cer!.toFixed(4)} | 8-bit ${r8.quantized.cer!.toFixed(4)} cos ${r8.outputAgreement!.cosine.toFixed(5)} | 2-bit ${r2.quantized.cer!.toFixed(4)} cos ${r2.outputAgreement!.cosine.toFixed(4)}`,
    );
  });
});
