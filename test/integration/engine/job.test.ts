import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { runJob } from '../../../engine/job';
import type { JobProgress, Method } from '../../../protocol/plan';
import type { Report } from '../../../protocol/report';
import { layerPlans, storiesPlan } from './planFixture';
import { llama, skipNotTrained } from './sharedFixtures';

const ppl = (r: Report) => ({ fp: r.metrics.fp.perplexity!, q: r.metrics.quantized.perplexity! });

describe(`runJob on ${llama.name} (RTN)`, () => {
  const reports = new Map<number, Report>();
  const run = async (bits: number) => {
    if (!reports.has(bits)) reports.set(bits, await runJob(storiesPlan({ layers: layerPlans('rtn', bits) })));
    return reports.get(bits)!;
  };

  test('8-bit RTN: a real MatMulNBits model within 1% of FP perplexity, report written with history', async () => {
    const events: JobProgress[] = [];
    const plan = storiesPlan({ layers: layerPlans('rtn', 8) });
    const r = await runJob(plan, { onProgress: (p) => events.push(p) });
    reports.set(8, r);
    const { fp, q } = ppl(r);
    assert.ok(Math.abs(q - fp) / fp < 0.01, `fp ${fp} q ${q}`);
    assert.ok(r.metrics.top1_agreement! > 0.95);
    assert.equal(r.layers.length, llama.layers.length);
    assert.ok(
      r.layers.every((l) => l.rel_error > 0 && l.rel_error < 1e-3),
      'every 8-bit layer error is small',
    );
    assert.ok(r.size.quantized_bytes < r.size.fp_bytes);
    assert.equal(r.size.quantized_bytes, statSync(plan.outputPath).size);
    assert.ok(r.size.bits_per_weight > 8 && r.size.bits_per_weight < 10.5);
    assert.deepEqual(JSON.parse(readFileSync(plan.reportPath, 'utf8')), r);
    assert.equal(readdirSync(join(dirname(plan.reportPath), '.lowbit-history')).length, 1);
    const q36 = events.filter((e) => e.stage === 'quantize' && e.fraction === 1);
    assert.deepEqual(
      q36.map((e) => (e as { layer: string }).layer),
      llama.layers,
    );
    assert.deepEqual([...new Set(events.map((e) => e.stage))], ['load', 'calibrate', 'quantize', 'export', 'evaluate', 'done']);
  });

  test('4-bit g32 is measurably worse than 8-bit and far better than 2-bit', { skip: skipNotTrained }, async () => {
    const [r8, r4, r2] = [await run(8), await run(4), await run(2)];
    assert.ok(ppl(r4).q > ppl(r8).q * 1.02, `4-bit ${ppl(r4).q} vs 8-bit ${ppl(r8).q}`);
    assert.ok(ppl(r2).q > ppl(r4).q * 3, `2-bit ${ppl(r2).q} vs 4-bit ${ppl(r4).q}`);
    assert.ok(r4.metrics.kl_divergence!.mean > r8.metrics.kl_divergence!.mean);
    for (let i = 0; i < llama.layers.length; i++) assert.ok(r4.layers[i].rel_error > r8.layers[i].rel_error, r4.layers[i].name);
  });
});

describe('runJob failures leave nothing behind', () => {
  test('a cancelled job leaves no output and no report; the input is untouched', async () => {
    const before = readFileSync(llama.model);
    const plan = storiesPlan({ layers: layerPlans('rtn', 4) });
    const ac = new AbortController();
    await assert.rejects(
      runJob(plan, {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'quantize' && p.index === 10) ac.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.equal(existsSync(plan.outputPath), false);
    assert.equal(existsSync(plan.reportPath), false);
    assert.deepEqual(readFileSync(llama.model), before);
  });
  test('cancelled during evaluation (after export) leaves no output (the staged one is removed)', async () => {
    const plan = storiesPlan({ layers: layerPlans('rtn', 4, 32, ['output']) });
    const ac = new AbortController();
    await assert.rejects(
      runJob(plan, {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'evaluate') ac.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.equal(existsSync(plan.outputPath), false);
    assert.deepEqual(readdirSync(dirname(plan.outputPath)), []);
  });
  test('missing model, unwritable output and output = input are clear errors', async () => {
    await assert.rejects(
      runJob(storiesPlan({ modelPath: '/nonexistent/m.onnx', layers: layerPlans('rtn', 4) })),
      /model \/nonexistent\/m\.onnx: cannot read/,
    );
    const file = join(dirname(storiesPlan({ layers: [] }).outputPath), 'a-file');
    writeFileSync(file, 'x');
    await assert.rejects(
      runJob(storiesPlan({ outputPath: join(file, 'out.onnx'), layers: layerPlans('rtn', 4) })),
      /output .*a-file\/out\.onnx: folder .* is not writable/,
    );
    await assert.rejects(runJob(storiesPlan({ outputPath: llama.model, layers: layerPlans('rtn', 4) })), /is the input model/);
    // An embedding table has no activations to calibrate on: a calibrated method is refused, naming it.
    await assert.rejects(
      runJob(storiesPlan({ layers: layerPlans('gptq', 4, 32, ['tok_embeddings']) })),
      /layer tok_embeddings: method gptq needs calibration statistics/,
    );
  });
  test('a method without a kernel is a clear error naming the layer, not a fallback', async () => {
    const plan = storiesPlan({ layers: layerPlans('nope' as Method, 4, 32, ['layers.0.wq']) });
    await assert.rejects(runJob(plan), /layer layers\.0\.wq: method "nope" is not implemented in this build/);
    assert.equal(existsSync(plan.outputPath), false);
  });
});
