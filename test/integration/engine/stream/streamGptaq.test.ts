/**
 * GPTAQ (gptq asymmetric) streamed on the real stories260K, sequential mode: the FP stream runs in a
 * second activation cache and each block's session also runs it for the cross statistic D; the codes,
 * scales, dequantized weights and the report's D/H ratio equal the whole-model sequential path's bit
 * for bit, and both caches are removed (also when cancelled mid-block).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Feeds } from '../../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../../engine/calibrate/calibrationData';
import { quantizeSequential } from '../../../../engine/calibrate/sequential';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import type { QuantizedLayer } from '../../../../engine/quantize/quantizeLayers';
import type { QuantizedWeightLike } from '../../../../engine/export/types';
import type { JobPlan } from '../../../../protocol/plan';
import { layerPlans, storiesPlan } from '../planFixture';
import { skipNoShared } from '../sharedFixtures';
import { calibratedOf, inMode, streamRun } from './streamRun';

function diff(a: QuantizedLayer[], b: QuantizedLayer[]): string[] {
  const out: string[] = [];
  const same = (x: ArrayLike<number> | undefined, y: ArrayLike<number> | undefined) =>
    x === y || (!!x && !!y && x.length === y.length && Array.prototype.every.call(x, (v: number, k: number) => Object.is(v, y[k])));
  a.forEach((l, i) => {
    const qa = l.q as QuantizedWeightLike,
      qb = b[i].q as QuantizedWeightLike;
    assert.equal(l.layer, b[i].layer);
    if (!same(qa.codes, qb.codes)) out.push(`${l.layer}: codes differ`);
    if (!same(qa.scales, qb.scales)) out.push(`${l.layer}: scales differ`);
    if (!same(l.dequant, b[i].dequant)) out.push(`${l.layer}: dequant differs`);
    if (JSON.stringify(l.report.gptaq) !== JSON.stringify(b[i].report.gptaq))
      out.push(`${l.layer}: gptaq ${JSON.stringify(l.report.gptaq)} vs ${JSON.stringify(b[i].report.gptaq)}`);
  });
  return out;
}

describe('GPTAQ streamed on stories260K (sequential)', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let batches: Feeds[];
  let cacheRoot: string;
  let plan: JobPlan;
  before(async () => {
    plan = storiesPlan({ layers: layerPlans('gptq', 4, 32, undefined, { asymmetric: true }), format: 'matmulnbits' });
    inMode(plan, 'sequential');
    model = await loadModel(plan.modelPath);
    batches = (await calibrationFeeds(plan.calibration, model.summary(), undefined)).batches;
    cacheRoot = mkdtempSync(join(tmpdir(), 'lowbit-stream-gptaq-'));
  });
  after(() => rmSync(cacheRoot, { recursive: true, force: true }));

  test('the whole-model sequential codes, scales and D/H ratios; both caches spill and are removed', async () => {
    const calibrated = calibratedOf(plan, model);
    const ops = new Map(calibrated.map((l) => [l.name, l.op]));
    const whole = await quantizeSequential({ plan, model, ops, calibrated, batches });
    const s = await streamRun(plan, model, batches, cacheRoot);
    assert.deepEqual(diff(s.layers, whole.layers), []);
    assert.ok(s.cache.diskBytesWritten > 0);
    assert.deepEqual(readdirSync(cacheRoot), [], 'both cache folders are removed');
    // Not vacuous: D is zero in the first block only, and GPTAQ's codes differ from plain GPTQ's.
    const ratios = s.layers.map((l) => l.report.gptaq?.cross_ratio ?? NaN);
    assert.ok(
      ratios.slice(0, 4).every((r) => r === 0),
      `block 1: ${ratios.slice(0, 4)}`,
    );
    assert.ok(
      ratios.slice(4).every((r) => r > 0),
      'later blocks see the quantized prefix',
    );
    const plain = structuredClone(plan);
    plain.layers = layerPlans('gptq', 4, 32);
    // The same calibrated layers (and ops) as the GPTAQ run; only the plan's settings differ.
    const g = await streamRun(plain, model, batches, cacheRoot, { ops, calibrated });
    assert.ok(diff(s.layers, g.layers).length > 10);
  });

  test('cancel mid-block leaves neither cache behind', async () => {
    const ac = new AbortController();
    let blocks = 0;
    await assert.rejects(
      streamRun(plan, model, batches, cacheRoot, {
        cacheRamBytes: 0,
        signal: ac.signal,
        onProgress: (e) => {
          if (e.stage === 'quantize' && e.fraction === 0 && /^block \d+ of \d+:/.test(e.message) && ++blocks === 3) ac.abort();
        },
      }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.equal(blocks, 3);
    assert.deepEqual(readdirSync(cacheRoot), []);
  });
});
