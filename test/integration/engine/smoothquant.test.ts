/** SmoothQuant end to end on the real stories260K: scales, exact fold, W8A8 / W4A8 / W6A6 activation QDQ. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { prepareActivationAware } from '../../../engine/quantize/activationAware';
import { runJob } from '../../../engine/job';
import { insertActivationQdq, scaleGroups, symmetricActivationQuant } from '../../../engine/transforms';
import type { OnnxModel } from '../../../engine/onnx/model';
import type { InputStatistics } from '../../../engine/calibrate/calibrate';
import { calibratedStories, plansOf } from './activationAwareFixture';
import { relErr, runModel, tokens } from './exportFixtures';
import { storiesPlan } from './planFixture';
import { llama, skipNotTrained } from './sharedFixtures';

/** Distinct layer inputs, one activation QDQ each: per block attention, wo, FFN, w2; plus output (21 in stories260K). */
const ACTIVATION_INPUTS = ((llama.layers.length - 1) / 7) * 4 + 1;

/** Counts nodes of an op type in serialized ONNX by its op_type string (a plain byte search). */
function countOp(bytes: Uint8Array, op: string): number {
  return Buffer.from(bytes).toString('latin1').split(op).length - 1;
}

describe(`SmoothQuant on ${llama.name}`, () => {
  let model: OnnxModel;
  let stats: Map<string, InputStatistics>;
  before(async () => ({ model, stats } = await calibratedStories()));

  test('scales follow s_j = max|X_j|^α / max_i|W_ij|^(1−α) (float64 reference); the fold keeps the logits', async () => {
    const layers = plansOf('smoothquant', 8, { alpha: 0.5 });
    const prep = await prepareActivationAware({ layers, model, stats, threads: 1 });
    for (const g of scaleGroups(model)) {
      const input = stats.get(model.layerInput(g.layers[0]))!;
      const n = input.n;
      const ref = new Float64Array(n);
      for (let j = 0; j < n; j++) {
        let wmax = 0;
        for (const name of g.layers) {
          const w = model.getWeight(name);
          for (let r = 0; r < w.rows; r++) wmax = Math.max(wmax, Math.abs(w.data[r * w.cols + j]));
        }
        ref[j] = Math.max(Math.sqrt(input.stats.absMax[j]) / Math.sqrt(Math.max(wmax, 1e-5)), 1e-5);
      }
      // Folded weights are W·diag(s): recover s from the first consumer's largest-magnitude entry per column.
      const probe = g.layers.find((n) => !n.endsWith('.w3'))!; // w3's output columns also absorb w2's 1/s
      const w0 = model.getWeight(probe),
        w1 = prep.model.getWeight(probe);
      for (let j = 0; j < n; j++) {
        let r = 0;
        for (let i = 0; i < w0.rows; i++) if (Math.abs(w0.data[i * n + j]) > Math.abs(w0.data[r * n + j])) r = i;
        const s = w1.data[r * n + j] / w0.data[r * n + j];
        assert.ok(Math.abs(s - ref[j]) <= 1e-4 * ref[j], `${probe} channel ${j}: s ${s} vs ${ref[j]}`);
      }
      const d = prep.details.get(g.layers[0])!.smoothing!;
      assert.equal(d.alpha, 0.5);
      assert.ok(
        Math.abs(d.scale_range[0] - Math.min(...ref)) <= 1e-4 * Math.min(...ref) &&
          Math.abs(d.scale_range[1] - Math.max(...ref)) <= 1e-4 * Math.max(...ref),
      );
    }
    const feeds = { input_ids: tokens(2, 24) };
    const fp = await runModel(model.serialize(), feeds, 'logits');
    const folded = await runModel(prep.model.serialize(), feeds, 'logits');
    assert.ok(relErr(folded, fp) < 1e-5, `fold changed the logits: rel ${relErr(folded, fp)}`);
  });

  test(
    'W8A8 / W4A8 / W6A6 end to end: activation QDQ in the output, perplexity ordered and W8A8 near FP',
    { skip: skipNotTrained },
    async (t) => {
      const ppl: Record<string, number> = {};
      let fp = 0;
      for (const [w, a] of [
        [8, 8],
        [4, 8],
        [6, 6],
      ] as const) {
        const plan = storiesPlan({ layers: plansOf('smoothquant', w, { alpha: 0.5, activation_bits: a }), format: 'fake' });
        const r = await runJob(plan);
        const bytes = new Uint8Array(readFileSync(plan.outputPath));
        assert.ok(countOp(bytes, 'QuantizeLinear') >= ACTIVATION_INPUTS, `W${w}A${a}: activation QuantizeLinear nodes missing`);
        assert.ok(r.layers.every((l) => l.smoothing?.activation_bits === a));
        ppl[`W${w}A${a}`] = r.metrics.quantized.perplexity!;
        fp = r.metrics.fp.perplexity!;
      }
      t.diagnostic(
        `FP ${fp} | ${Object.entries(ppl)
          .map(([k, v]) => `${k} ${v}`)
          .join(' | ')}`,
      );
      assert.ok(ppl.W8A8 < fp * 1.05, `W8A8 ${ppl.W8A8} vs FP ${fp}`);
      assert.ok(ppl.W8A8 <= ppl.W4A8 && ppl.W8A8 <= ppl.W6A6, JSON.stringify(ppl));
    },
  );

  test('sequential calibration, W8A8: scales and activation ranges from the quantized prefix; QDQ in the output, near FP', async (t) => {
    const plan = storiesPlan({ layers: plansOf('smoothquant', 8, { alpha: 0.5, activation_bits: 8 }), format: 'fake' });
    plan.calibration = { ...plan.calibration, mode: 'sequential' } as typeof plan.calibration;
    const r = await runJob(plan);
    t.diagnostic(`sequential W8A8: FP ${r.metrics.fp.perplexity} | ppl ${r.metrics.quantized.perplexity}`);
    assert.equal(r.calibration.mode, 'sequential');
    assert.ok(
      countOp(new Uint8Array(readFileSync(plan.outputPath)), 'QuantizeLinear') >= ACTIVATION_INPUTS,
      'activation QuantizeLinear nodes missing',
    );
    assert.ok(r.layers.every((l) => l.smoothing?.activation_bits === 8 && l.smoothing.alpha === 0.5));
    assert.ok(
      r.metrics.quantized.perplexity! < r.metrics.fp.perplexity! * 1.05,
      `W8A8 ${r.metrics.quantized.perplexity} vs FP ${r.metrics.fp.perplexity}`,
    );
  });

  test('smoothing helps A6: logits of the smoothed+QDQ model are closer to FP than plain QDQ on the unscaled inputs', async (t) => {
    const layers = plansOf('smoothquant', 8, { alpha: 0.5, activation_bits: 6 });
    const sq = await prepareActivationAware({ layers, model, stats, threads: 1 });
    const qdq: Record<string, ReturnType<typeof symmetricActivationQuant>> = {};
    for (const l of layers) {
      const absMax = Math.max(...stats.get(model.layerInput(l.name))!.stats.absMax);
      qdq[l.name] = symmetricActivationQuant(absMax, 6);
    }
    const plain = insertActivationQdq(model, qdq);
    const feeds = { input_ids: tokens(2, 48) };
    const fp = await runModel(model.serialize(), feeds, 'logits');
    const eSq = relErr(await runModel(sq.model.serialize(), feeds, 'logits'), fp);
    const ePlain = relErr(await runModel(plain.serialize(), feeds, 'logits'), fp);
    t.diagnostic(`A6 (FP weights) logits rel error: smoothquant ${eSq} | unsmoothed ${ePlain}`);
    assert.ok(eSq > 0, 'activation QDQ had no effect');
    assert.ok(eSq < ePlain, `smoothquant ${eSq} vs plain ${ePlain}`);
  });
});
