// The README's example end to end through the engine's own steps, with this area's image feeds:
// recipe → plan → image calibration → GPTQ 4-bit on the PP-OCRv4 rec MatMuls → MatMulNBits export →
// FP vs compressed CER and output agreement on the rendered lines in examples/ocr.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadRecipePlan } from '../../../recipe/load';
import { modelHost } from '../../../language-server/src/services/modelSource';
import { loadModel } from '../../../engine/onnx/model';
import { calibrate } from '../../../engine/calibrate/calibrate';
import { quantizeLayers } from '../../../engine/quantize/quantizeLayers';
import { nativeKernelsAvailable } from '../../../engine/quantize/native';
import { exportAndWrite } from '../../../engine/exportStep';
import { planLayers, statisticsView } from '../../../engine/job';
import { imageCalibrationFeeds } from '../../../engine/data/imagesFeeds';
import { evaluateOcr } from '../../../engine/tasks/ocr';

const root = resolve(__dirname, '../../..');
// Calibration and GPTQ need the native kernels; where they do not load, the test says so and skips
// (the FP path and a reference-RTN compression are covered by ocr-models / ocr-rec-rtn tests).
const skip = nativeKernelsAvailable() ? false : 'the native kernels (native/ts/index.ts) do not load in this checkout';

describe('examples/ocr-rec.lowbit.yaml (PP-OCRv4 rec, format auto)', () => {
  test(
    'compresses the 9 MatMul layers (4-bit MatMulNBits) and the 38 Conv layers (int8 QDQ) and keeps CER close to FP',
    { skip },
    async () => {
      const { plan, diagnostics } = await loadRecipePlan(join(root, 'examples/ocr-rec.lowbit.yaml'), modelHost);
      assert.ok(plan, `recipe errors: ${JSON.stringify(diagnostics)}`);
      assert.equal(plan.layers.length, 47);
      assert.equal(plan.calibration.kind, 'images');
      assert.equal(plan.evaluation.kind, 'images');
      if (plan.calibration.kind !== 'images' || plan.evaluation.kind !== 'images') return;
      const outputPath = join(mkdtempSync(join(tmpdir(), 'lowbit-ocr-')), 'rec-w4.onnx');

      const model = await loadModel(plan.modelPath);
      const feeds = await imageCalibrationFeeds(plan.calibration, model.summary());
      assert.equal(feeds.batches.length, 16);
      const layers = planLayers(plan, model);
      const stats = await calibrate({ model, layers, batches: feeds.batches, threads: 2 });
      assert.ok(stats.size >= 10, `statistics for ${stats.size} inputs`);
      const ops = new Map(layers.map((l) => [l.name, l.op]));
      // Conv statistics are keyed per layer (im2col rows), which statisticsView maps, as runJob does.
      const quantized = await quantizeLayers({ plan: { ...plan, threads: 2 }, model: statisticsView(model, layers), ops, stats });
      const written = await exportAndWrite(model, quantized, {
        format: plan.format,
        layers: plan.layers,
        outputPath,
        modelPath: plan.modelPath,
      });
      assert.deepEqual([...new Set(quantized.map((q) => q.report.format))].sort(), ['matmulnbits', 'qdq']);
      assert.ok(written.bytes > 0);

      const r = await evaluateOcr({
        fpModel: plan.modelPath,
        compressedModel: outputPath,
        path: plan.evaluation.path,
        labelsPath: plan.evaluation.labelsPath,
        samples: plan.evaluation.samples,
        image: plan.evaluation.image,
        threads: 2,
      });
      assert.equal(r.samples, 20);
      assert.ok(r.cerFp < 0.05, `FP CER ${r.cerFp}: ${JSON.stringify(r.lines)}`);
      assert.ok(r.cerCompressed < r.cerFp + 0.05, `compressed CER ${r.cerCompressed} vs FP ${r.cerFp}: ${JSON.stringify(r.lines)}`);
      assert.ok(r.agreement.cosine > 0.95 && r.agreement.cosine < 1, `cosine ${r.agreement.cosine}`);
      assert.ok(r.agreement.sqnrDb > 10 && Number.isFinite(r.agreement.sqnrDb), `SQNR ${r.agreement.sqnrDb} dB`);
      assert.ok(r.agreement.argmaxAgreement! > 0.95, `argmax agreement ${r.agreement.argmaxAgreement}`);
      console.log(
        `# FP CER ${r.cerFp.toFixed(4)}, 4-bit CER ${r.cerCompressed.toFixed(4)}, cosine ${r.agreement.cosine.toFixed(5)}, SQNR ${r.agreement.sqnrDb.toFixed(1)} dB, size ${written.bytes} B`,
      );
    },
  );
});
