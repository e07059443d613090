/** OS+ end to end on the real stories260K: shift + threshold-searched scale (s ≥ 1), exact fold, activation QDQ. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { prepareActivationAware } from '../../../engine/quantize/activationAware';
import { quadraticForm } from '../../../engine/quantize/groupLoss';
import { osplusGroupSearch } from '../../../engine/quantize/osplus';
import { runJob } from '../../../engine/job';
import { scaleGroups } from '../../../engine/transforms';
import type { OnnxModel } from '../../../engine/onnx/model';
import type { InputStatistics } from '../../../engine/calibrate/calibrate';
import { calibratedStories, plansOf, sumErr } from './activationAwareFixture';
import { relErr, runModel, tokens } from './exportFixtures';
import { storiesPlan } from './planFixture';
import { llama } from './sharedFixtures';

describe(`OS+ on ${llama.name}`, () => {
  let model: OnnxModel;
  let stats: Map<string, InputStatistics>;
  before(async () => ({ model, stats } = await calibratedStories()));

  test('shift + scale fold is exact in floating point, and every scale is ≥ 1', async () => {
    const layers = plansOf('osplus', 3, { shift: true });
    const prep = await prepareActivationAware({ layers, model, stats, threads: 1 });
    assert.equal(prep.details.size, llama.layers.length);
    let scaled = 0;
    for (const d of prep.details.values()) {
      assert.ok(d.smoothing!.scale_range[0] >= 1, `min scale ${d.smoothing!.scale_range[0]}`);
      if (d.smoothing!.scale_range[1] > 1) scaled++;
    }
    assert.ok(scaled > 0, 'no group was scaled');
    const feeds = { input_ids: tokens(2, 24) };
    const fp = await runModel(model.serialize(), feeds, 'logits');
    const folded = await runModel(prep.model.serialize(), feeds, 'logits');
    assert.ok(relErr(folded, fp) < 1e-5, `fold changed the logits: rel ${relErr(folded, fp)}`);
  });

  test('per group, loss(best threshold) ≤ loss(no scaling)', async () => {
    for (const g of scaleGroups(model)) {
      const input = stats.get(model.layerInput(g.layers[0]))!;
      const H = input.hessian.matrix();
      const members = g.layers.map((name) => {
        const weight = model.getWeight(name);
        return { name, weight, quant: { bits: 3, groupSize: 32, symmetric: false }, norm: quadraticForm(weight, H) };
      });
      const r = await osplusGroupSearch(members, input.stats.max, input.stats.min, H, { shift: false, steps: 100 }, 1);
      assert.ok(r.loss <= r.lossUnscaled, `${g.layers}: ${r.loss} > ${r.lossUnscaled}`);
      assert.ok(r.scale.every((v) => v >= 1));
    }
  });

  test('3-bit weight-only vs RTN, and W8A8 with shift near FP (end to end)', async (t) => {
    const rtn = await runJob(storiesPlan({ layers: plansOf('rtn', 3), format: 'fake' }));
    const os = await runJob(storiesPlan({ layers: plansOf('osplus', 3), format: 'fake' }));
    const a8 = await runJob(storiesPlan({ layers: plansOf('osplus', 8, { shift: true, activation_bits: 8 }), format: 'fake' }));
    const p = (r: typeof rtn) => r.metrics.quantized.perplexity!;
    t.diagnostic(
      `FP ${rtn.metrics.fp.perplexity} | RTN W3 ppl ${p(rtn)} Σrel ${sumErr(rtn.layers)} | OS+ W3 ppl ${p(os)} Σrel ${sumErr(os.layers)} | OS+ W8A8 shift ppl ${p(a8)}`,
    );
    assert.ok(sumErr(os.layers) < sumErr(rtn.layers), `Σ rel_error os+ ${sumErr(os.layers)} rtn ${sumErr(rtn.layers)}`);
    assert.ok(a8.layers.every((l) => l.smoothing?.activation_bits === 8));
    assert.ok(p(a8) < rtn.metrics.fp.perplexity! * 1.05, `W8A8 ${p(a8)}`);
  });

  test('sequential calibration: W3 weight-only and W8A8 with shift run block by block (end to end)', async (t) => {
    const plan = (layers: ReturnType<typeof plansOf>) => {
      const p = storiesPlan({ layers, format: 'fake' });
      p.calibration = { ...p.calibration, mode: 'sequential' } as typeof p.calibration;
      return p;
    };
    const w3 = await runJob(plan(plansOf('osplus', 3)));
    const a8 = await runJob(plan(plansOf('osplus', 8, { shift: true, activation_bits: 8 })));
    const p = (r: typeof w3) => r.metrics.quantized.perplexity!;
    t.diagnostic(
      `sequential: FP ${w3.metrics.fp.perplexity} | OS+ W3 ppl ${p(w3)} Σrel ${sumErr(w3.layers)} | OS+ W8A8 shift ppl ${p(a8)}`,
    );
    assert.equal(w3.calibration.mode, 'sequential');
    assert.ok(
      w3.layers.every((l) => l.smoothing && l.smoothing.scale_range[0] >= 1),
      'every OS+ scale is ≥ 1',
    );
    assert.ok(a8.layers.every((l) => l.smoothing?.activation_bits === 8));
    assert.ok(p(a8) < w3.metrics.fp.perplexity! * 1.05, `W8A8 ${p(a8)}`);
  });
});
