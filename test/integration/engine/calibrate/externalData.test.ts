/**
 * stories260K written with its weights as ONNX external data gives exactly what the original (inline)
 * model gives in calibration, sensitivity and sequential calibration: those sessions now load the
 * weights in place from the model's folder instead of from an inlined copy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibrate } from '../../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../../engine/calibrate/calibrationData';
import { writeModelStreaming } from '../../../../engine/export/writeStreaming';
import { planLayers, runJob } from '../../../../engine/job';
import { loadModel } from '../../../../engine/onnx/model';
import { runSensitivity } from '../../../../engine/sensitivity';
import type { JobPlan } from '../../../../protocol/plan';
import type { Report } from '../../../../protocol/report';
import { layerPlans, STORIES_LAYERS, storiesPlan } from '../planFixture';
import { skipNoShared, stories } from '../sharedFixtures';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-extcal-'));
const external = join(dir, 'model.onnx');
const outputs: string[] = [];
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

describe('stories260K with external data: same results as inline', { skip: skipNoShared }, () => {
  before(async () => {
    const m = await loadModel(stories.model);
    await writeModelStreaming(m.proto, external, { inputPath: stories.model, src: m.src, label: m.path, externalData: 'always' });
  });
  after(() => {
    for (const o of outputs) rmSync(o, { recursive: true, force: true });
  });

  /** The same plan on the inline model and on the external copy. */
  const pair = (make: () => JobPlan): [JobPlan, JobPlan] => {
    const a = make(),
      b = make();
    b.modelPath = external;
    outputs.push(join(a.outputPath, '..'), join(b.outputPath, '..'));
    return [a, b];
  };

  test('the copy keeps its weights external', async () => {
    const m = await loadModel(external);
    assert.ok(m.hasExternalData);
    assert.ok(statSync(external).size < statSync(`${external}.data`).size / 4, 'most bytes are in model.onnx.data');
  });

  test('calibration: every Hessian and statistic is identical', async () => {
    const plan = storiesPlan({ layers: layerPlans('gptq', 4) });
    outputs.push(join(plan.outputPath, '..'));
    const inline = await loadModel(stories.model),
      ext = await loadModel(external);
    const layers = planLayers(plan, inline);
    const feeds = await calibrationFeeds({ ...plan.calibration, samples: 4 }, inline.summary(), 0, 2);
    const a = await calibrate({ model: inline, layers, batches: feeds.batches, threads: 1 });
    const b = await calibrate({ model: ext, layers: planLayers(plan, ext), batches: feeds.batches, threads: 1 });
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [key, s] of a) {
      const t = b.get(key)!;
      assert.deepEqual(t.layers, s.layers);
      assert.equal(t.stats.tokens, s.stats.tokens);
      assert.deepEqual(t.hessian.matrix(), s.hessian.matrix(), key);
      assert.deepEqual(t.stats.absMax, s.stats.absMax, key);
      assert.deepEqual(t.stats.absSum, s.stats.absSum, key);
    }
  });

  test('sensitivity: identical proxies and measured KL', async () => {
    const names = ['layers.0.wv', 'layers.2.w2', 'output'];
    const [a, b] = pair(() => {
      const p = storiesPlan({ layers: layerPlans('rtn', 2, 32, names) });
      p.evaluation = { ...p.evaluation, samples: 4 } as typeof p.evaluation;
      return p;
    });
    const ea = await runSensitivity(a),
      eb = await runSensitivity(b);
    assert.ok(ea.every((e) => e.kl! > 0));
    assert.deepEqual(eb, ea);
  });

  test('sequential GPTQ (with AWQ on block 1): identical layer errors and perplexities', async () => {
    const [a, b] = pair(() => {
      const layers = layerPlans('gptq', 3);
      for (const l of layers) if (l.name.startsWith('layers.1.')) l.method = 'awq';
      const p = storiesPlan({ layers });
      p.calibration = { ...p.calibration, mode: 'sequential' } as typeof p.calibration;
      p.evaluation = { ...p.evaluation, samples: 4 } as typeof p.evaluation;
      return p;
    });
    const ra: Report = await runJob(a),
      rb: Report = await runJob(b);
    assert.equal(rb.calibration.mode, 'sequential');
    assert.deepEqual(
      rb.layers.map((l) => l.name),
      STORIES_LAYERS,
    );
    assert.deepEqual(
      rb.layers.map((l) => [l.rel_error, l.gptq?.loss]),
      ra.layers.map((l) => [l.rel_error, l.gptq?.loss]),
    );
    assert.equal(rb.metrics.fp.perplexity, ra.metrics.fp.perplexity);
    assert.equal(rb.metrics.quantized.perplexity, ra.metrics.quantized.perplexity);
    assert.ok(rb.metrics.quantized.perplexity! > rb.metrics.fp.perplexity!);
  });
});
