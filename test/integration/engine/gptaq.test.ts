import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runJob } from '../../../engine/job';
import type { Report } from '../../../protocol/report';
import { layerPlans, storiesPlan as basePlan } from './planFixture';
import { llama } from './sharedFixtures';

/** Sequential plans with 16 × 128 calibration tokens. */
function plan(settings: Record<string, unknown>, mode: 'sequential' | 'parallel' = 'sequential'): ReturnType<typeof basePlan> {
  const p = basePlan({ layers: layerPlans('gptq', 3, 32, undefined, settings) });
  p.calibration = { ...p.calibration, samples: 16, mode } as typeof p.calibration;
  return p;
}

describe(`GPTAQ (gptq asymmetric) on ${llama.name}`, () => {
  test('sequential: the first block (x̃ = x) is GPTQ exactly, later blocks see the input drift; the report shows α and ‖D‖/‖H‖', async () => {
    const gptq: Report = await runJob(plan({}));
    const gptaq: Report = await runJob(plan({ asymmetric: true }));
    const first = gptaq.layers[0]!;
    assert.deepEqual(first.gptaq, { alpha: 0.25, cross_ratio: 0 });
    assert.equal(first.rel_error, gptq.layers[0]!.rel_error);
    const later = gptaq.layers.filter((l) => l.gptaq!.cross_ratio > 0);
    assert.ok(later.length >= gptaq.layers.length / 2, `${later.length} of ${gptaq.layers.length} layers see x̃ ≠ x`);
    for (const l of gptaq.layers) assert.equal(l.gptaq!.alpha, 0.25);
    const p = (r: Report) => r.metrics.quantized.perplexity!;
    console.log(`# ${llama.name} w3 g32 sequential, 16×128 calibration tokens: gptq ppl ${p(gptq)}, gptaq ppl ${p(gptaq)}`);
    assert.ok(p(gptaq) < 1.05 * p(gptq), `gptaq ${p(gptaq)} vs gptq ${p(gptq)}`);
  });

  test('parallel calibration: a clear error naming the layer, and no output written', async () => {
    const pl = plan({ asymmetric: true }, 'parallel');
    await assert.rejects(runJob(pl), /layer .*gptq asymmetric \(GPTAQ\) needs the float model's inputs.*calibration\.mode: sequential/);
    assert.equal(existsSync(pl.outputPath), false);
  });
});
