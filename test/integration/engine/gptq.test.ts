import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runJob } from '../../../engine/job';
import type { Report } from '../../../protocol/report';
import { layerPlans, storiesPlan as basePlan } from './planFixture';

/** Plans with 32 × 128 calibration tokens (from the end of the file; evaluation reads its start). */
const storiesPlan: typeof basePlan = (over) => {
  const p = basePlan(over);
  p.calibration = { ...p.calibration, samples: 32 } as typeof p.calibration;
  return p;
};
import { llama, skipNotTrained } from './sharedFixtures';

describe(`GPTQ vs RTN on ${llama.name}`, () => {
  for (const bits of [4, 3]) {
    test(`${bits}-bit g32: GPTQ has lower error on every layer and lower perplexity`, { skip: bits === 4 && skipNotTrained }, async () => {
      const settings = { damp: 0.01, block_size: 128, act_order: false };
      const rtn: Report = await runJob(storiesPlan({ layers: layerPlans('rtn', bits) }));
      const gptq: Report = await runJob(storiesPlan({ layers: layerPlans('gptq', bits, 32, undefined, settings) }));
      for (let i = 0; i < rtn.layers.length; i++) {
        assert.ok(
          gptq.layers[i].rel_error < rtn.layers[i].rel_error,
          `${rtn.layers[i].name}: gptq ${gptq.layers[i].rel_error} rtn ${rtn.layers[i].rel_error}`,
        );
        assert.ok(gptq.layers[i].gptq && gptq.layers[i].gptq!.loss >= 0);
      }
      const p = (r: Report) => r.metrics.quantized.perplexity!;
      assert.ok(p(gptq) < p(rtn), `gptq ${p(gptq)} rtn ${p(rtn)}`);
    });
  }
  test('sequential mode calibrates on the already-quantized prefix and still beats RTN', async () => {
    const plan = storiesPlan({ layers: layerPlans('gptq', 3) });
    plan.calibration = { ...plan.calibration, mode: 'sequential' } as typeof plan.calibration;
    const seq = await runJob(plan);
    const rtn = await runJob(storiesPlan({ layers: layerPlans('rtn', 3) }));
    assert.equal(seq.calibration.mode, 'sequential');
    assert.ok(seq.metrics.quantized.perplexity! < rtn.metrics.quantized.perplexity!);
  });
});
