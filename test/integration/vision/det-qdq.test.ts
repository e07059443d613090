// PP-OCRv4 text detection (Conv-heavy, ConvTranspose upsampling, opset 11) stored for real, not as
// fake-quant: `format: auto` at 8 bits (Conv per-channel int8 QDQ; ConvTranspose blocked QDQ, which
// raises the opset to 21) and `format: qdq` at 4 bits in groups of 32 (blocked int4). Output agreement
// on rendered pages, file size and latency FP vs compressed are measured and printed; a QDQ model
// slower than FP is shown as it is.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../../engine/onnx/model';
import { exportModel } from '../../../engine/export/exportModel';
import { renderTextPage, encodePng } from '../../../engine/data/imagesRender';
import { evaluateImages } from '../../../engine/tasks/evaluateImages';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';
import { readRecipe } from '../../../recipe/checkRecipe';
import { resolvePlan } from '../../../recipe/resolvePlan';
import { rtn } from '../engine/exportFixtures';

describe('PP-OCRv4 detection stored as QDQ (int8 auto, int4 blocked)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-detq-'));
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

  async function compress(name: string, header: string): Promise<{ path: string; written: Record<string, number> }> {
    const model = await loadModel(fpPath);
    const text = `version: 1\nmodel: ${fpPath}\noutput: ${join(dir, `${name}.onnx`)}\n${header}`;
    const { plan, diagnostics } = resolvePlan(readRecipe(text), model.summary().layers, join(dir, `${name}.lowbit.yaml`));
    assert.ok(plan, JSON.stringify(diagnostics.filter((d) => d.severity === 'error')));
    const results = plan.layers.map((p) => {
      const w = model.getWeight(p.name);
      const r = rtn(w.data, w.rows, w.cols, p.bits, p.groupSize);
      return { layer: p.name, dequant: r.dequant, q: r.q };
    });
    const out = exportModel(model, results, { format: plan.format, layerFormats: new Map(plan.layers.map((l) => [l.name, l.format!])) });
    writeFileSync(plan.outputPath, out.bytes);
    const written: Record<string, number> = {};
    for (const l of out.layers) written[l.written] = (written[l.written] ?? 0) + 1;
    return { path: plan.outputPath, written };
  }

  test('int8 keeps the map (cosine ≥ 0.99), int4 is reported; sizes and latency FP vs compressed printed', async () => {
    const ev = { kind: 'images' as const, path: dir, samples: 2, image, metrics: ['output_agreement' as const, 'latency' as const] };
    const w8 = await compress('det-w8', 'format: auto\ndefaults: { method: rtn, bits: 8, group_size: -1 }\n');
    const w4 = await compress('det-w4', 'format: qdq\ndefaults: { method: rtn, bits: 4, group_size: 32 }\n');
    assert.deepEqual(w8.written, { qdq: 64 }, JSON.stringify(w8.written));
    assert.deepEqual(w4.written, { qdq: 64 }, JSON.stringify(w4.written));
    const r8 = await evaluateImages(ev, fpPath, w8.path, { threads: 2 });
    const r4 = await evaluateImages(ev, fpPath, w4.path, { threads: 2 });
    const fpBytes = statSync(fpPath).size,
      b8 = statSync(w8.path).size,
      b4 = statSync(w4.path).size;
    const a8 = r8.outputAgreement!,
      a4 = r4.outputAgreement!;
    console.log(
      `# det QDQ: FP ${(fpBytes / 2 ** 20).toFixed(2)} MiB ${r8.fp.latency_ms!.toFixed(1)} ms/img | int8 ${(b8 / 2 ** 20).toFixed(2)} MiB (${((100 * b8) / fpBytes).toFixed(1)}%) cos ${a8.cosine.toFixed(5)} SQNR ${a8.sqnr_db.toFixed(1)} dB pix ${a8.argmax_agreement.toFixed(4)} ${r8.quantized.latency_ms!.toFixed(1)} ms/img | int4 ${(b4 / 2 ** 20).toFixed(2)} MiB (${((100 * b4) / fpBytes).toFixed(1)}%) cos ${a4.cosine.toFixed(5)} SQNR ${a4.sqnr_db.toFixed(1)} dB pix ${a4.argmax_agreement.toFixed(4)} ${r4.quantized.latency_ms!.toFixed(1)} ms/img`,
    );
    assert.ok(a8.cosine >= 0.99 && a8.cosine < 1, `int8 cosine ${a8.cosine}`);
    assert.ok(a4.sqnr_db < a8.sqnr_db, `int4 SQNR ${a4.sqnr_db} vs int8 ${a8.sqnr_db}`);
    assert.ok(b8 < 0.3 * fpBytes, `int8 file ${b8} of ${fpBytes}`);
    assert.ok(b4 < 0.2 * fpBytes, `int4 file ${b4} of ${fpBytes}`);
    assert.ok(r8.quantized.latency_ms! > 0 && r4.quantized.latency_ms! > 0);
  });
});
