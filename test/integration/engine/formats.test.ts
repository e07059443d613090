import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { runJob } from '../../../engine/job';
import { fakeQuantBytes } from '../../../engine/exportStep';
import { calibrateForPlan, planLayers } from '../../../engine/job';
import { loadModel } from '../../../engine/onnx/model';
import { quantizeLayers } from '../../../engine/quantize/quantizeLayers';
import { openSession, runTokens } from '../../../engine/evaluate/ortSession';
import { textWindows } from '../../../engine/data/text';
import { layerPlans, storiesPlan } from './planFixture';
import { llama } from './sharedFixtures';

describe('compressed model = fake-quant model', () => {
  for (const format of ['matmulnbits', 'qdq'] as const) {
    test(`${format} 4-bit: logits match the dequantized float model`, async () => {
      // accuracy_level 0: fp32 activations, so the stored codes alone decide the logits (the default 4 quantizes activations to int8).
      const plan = storiesPlan({ layers: layerPlans('rtn', 4), format, evaluation: { kind: 'none', metrics: [] }, accuracyLevel: 0 });
      await runJob(plan);
      // Same quantization again (deterministic), written as plain float weights.
      const model = await loadModel(llama.model);
      const ops = new Map(planLayers(plan, model).map((l) => [l.name, l.op]));
      const cal = await calibrateForPlan(plan, model, {});
      const layers = await quantizeLayers({ plan, model, ops, stats: cal.stats });
      const fake = await openSession(fakeQuantBytes(model, layers), 1, 'fake');
      const real = await openSession(new Uint8Array(readFileSync(plan.outputPath)), 1, plan.outputPath);
      const w = await textWindows({ textPath: llama.text, tokenizerPath: llama.tokenizer, samples: 2, sequenceLength: 64 });
      const a = await runTokens(fake, w.ids, 2, 64),
        b = await runTokens(real, w.ids, 2, 64);
      let maxDiff = 0,
        maxAbs = 0;
      for (let i = 0; i < a.data.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - b.data[i]));
        maxAbs = Math.max(maxAbs, Math.abs(a.data[i]));
      }
      assert.ok(maxDiff <= 1e-3 * maxAbs, `max |Δlogit| ${maxDiff} (max |logit| ${maxAbs})`);
      const ops2 = (await loadModel(plan.outputPath)).graph.node.map((n) => n.opType);
      assert.ok(ops2.includes(format === 'matmulnbits' ? 'MatMulNBits' : 'DequantizeLinear'));
      await fake.release();
      await real.release();
      void ort;
    });
  }
});
