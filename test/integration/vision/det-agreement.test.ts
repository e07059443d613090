// Second real architecture: PP-OCRv4 text detection (62 Conv layers, no MatMul). Conv weights are
// rounded per output channel (symmetric RTN written here in float64, independent of the native
// kernels), written with the engine's exporter (fake-quant), and compared with FP through
// evaluateImages (output agreement on the probability map of rendered pages).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../../engine/onnx/model';
import { exportModel } from '../../../engine/export/exportModel';
import { renderTextPage, encodePng } from '../../../engine/data/imagesRender';
import { evaluateImages } from '../../../engine/tasks/evaluateImages';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';
import { rtnRows } from './rtnReference';

describe('PP-OCRv4 detection: FP vs per-channel RTN (fake-quant export)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-det-'));
  const pages = [
    ['Lowbit compresses ONNX models', 'Quantization at 4 bits'],
    ['Invoice No. 48213', 'Total: $129.95', 'Thank you'],
  ];
  pages.forEach((p, i) => writeFileSync(join(dir, `page${i}.png`), encodePng(renderTextPage(p, { width: 480 }))));
  const image = {
    height: 128,
    width: 480,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    layout: 'nchw' as const,
    channels: 'bgr' as const,
  };
  const fpPath = paddleOcrAsset('ch_PP-OCRv4_det_infer.onnx');

  async function compress(bits: number): Promise<string> {
    const model = await loadModel(fpPath);
    const convs = model.layers.filter((l) => l.quantizable && l.op === 'Conv');
    assert.ok(convs.length >= 60, `expected the det model's ~62 Conv layers, found ${convs.length}`);
    const results = convs.map((l) => {
      const w = model.getWeight(l.name);
      return { layer: l.name, dequant: rtnRows(w.data, w.rows, w.cols, bits) };
    });
    const out = join(dir, `det-w${bits}.onnx`);
    writeFileSync(out, exportModel(model, results, { format: 'fake' }).bytes);
    return out;
  }

  test('8-bit keeps the map (cosine > 0.99); 3-bit is measurably worse', async () => {
    const ev = { kind: 'images' as const, path: dir, samples: 2, image, metrics: ['output_agreement' as const, 'latency' as const] };
    const r8 = await evaluateImages(ev, fpPath, await compress(8), { threads: 2 });
    const r3 = await evaluateImages(ev, fpPath, await compress(3), { threads: 2 });
    const a8 = r8.outputAgreement!,
      a3 = r3.outputAgreement!;
    assert.ok(a8.cosine > 0.99 && a8.cosine < 1, `8-bit cosine ${a8.cosine}`);
    assert.ok(a8.argmax_agreement > 0.98, `8-bit pixel agreement ${a8.argmax_agreement}`);
    assert.ok(Number.isFinite(a8.sqnr_db) && a8.sqnr_db > 15, `8-bit SQNR ${a8.sqnr_db}`);
    assert.ok(a3.sqnr_db < a8.sqnr_db - 6, `3-bit SQNR ${a3.sqnr_db} vs 8-bit ${a8.sqnr_db}`);
    assert.ok(r8.fp.latency_ms! > 0 && r8.quantized.latency_ms! > 0);
    console.log(
      `# det agreement: 8-bit cos ${a8.cosine.toFixed(5)} SQNR ${a8.sqnr_db.toFixed(1)} dB pix ${a8.argmax_agreement.toFixed(4)}; 3-bit cos ${a3.cosine.toFixed(4)} SQNR ${a3.sqnr_db.toFixed(1)} dB pix ${a3.argmax_agreement.toFixed(4)}`,
    );
  });
});
