/**
 * Block streaming on the real stories260K: the streamed path (per-block onnxruntime sessions over
 * subgraphs, activations cached in RAM and on disk) gives the same GPTQ codes as the whole-model path,
 * in parallel and in sequential mode; cancel and cache-folder errors leave nothing behind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { calibrate, statisticsView, type Feeds } from '../../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../../engine/calibrate/calibrationData';
import { quantizeSequential } from '../../../../engine/calibrate/sequential';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import { quantizeLayers, type QuantizedLayer } from '../../../../engine/quantize/quantizeLayers';
import type { QuantizedWeightLike } from '../../../../engine/export/types';
import type { JobPlan } from '../../../../protocol/plan';
import { layerPlans, storiesPlan } from '../planFixture';
import { skipNoShared } from '../sharedFixtures';
import { calibratedOf, inMode, streamRun } from './streamRun';

/** Layers whose codes differ, and the first differing code. */
function codeDiff(a: QuantizedLayer[], b: QuantizedLayer[]): string[] {
  assert.deepEqual(
    a.map((l) => l.layer),
    b.map((l) => l.layer),
  );
  const out: string[] = [];
  a.forEach((l, i) => {
    const qa = l.q as QuantizedWeightLike,
      qb = b[i].q as QuantizedWeightLike;
    let diff = 0;
    for (let k = 0; k < qa.codes.length; k++) if (qa.codes[k] !== qb.codes[k]) diff++;
    const scales = qa.scales.every((s, k) => s === qb.scales[k]);
    if (diff || !scales) out.push(`${l.layer}: ${diff} codes differ${scales ? '' : ', scales differ'}`);
  });
  return out;
}

describe('block streaming on stories260K', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let batches: Feeds[];
  let cacheRoot: string;
  const plan = (mode: 'parallel' | 'sequential'): JobPlan =>
    inMode(storiesPlan({ layers: layerPlans('gptq', 4, 32), format: 'matmulnbits' }), mode);
  const streamed = (p: JobPlan, extra: Parameters<typeof streamRun>[4] = {}) => streamRun(p, model, batches, cacheRoot, extra);
  before(async () => {
    model = await loadModel(plan('parallel').modelPath);
    batches = (await calibrationFeeds(plan('parallel').calibration, model.summary(), undefined)).batches;
    cacheRoot = mkdtempSync(join(tmpdir(), 'lowbit-stream-test-'));
  });
  after(() => rmSync(cacheRoot, { recursive: true, force: true }));

  test('parallel: the same codes as one whole-model calibration pass; the cache spills to disk and is removed', async () => {
    const p = plan('parallel');
    const calibrated = calibratedOf(p, model);
    const stats = await calibrate({ model, layers: calibrated, batches, threads: 1 });
    const whole = await quantizeLayers({
      plan: p,
      model: statisticsView(model, calibrated),
      ops: new Map(calibrated.map((l) => [l.name, l.op])),
      stats,
    });
    const events: string[] = [],
      layerEvents: string[] = [];
    const s = await streamed(p, {
      onProgress: (e) => {
        if (e.stage === 'quantize' && e.fraction === 0 && /^block \d+ of \d+:/.test(e.message)) events.push(e.message);
        else if (e.stage === 'quantize' && e.fraction === 1) layerEvents.push(e.message);
      },
    });
    assert.deepEqual(codeDiff(s.layers, whole), []);
    assert.equal(s.blocks, 11, 'attention and MLP of 5 layers, then the output head');
    assert.ok(s.cache.diskBytesWritten > 0, 'a 96 KiB RAM share makes the cache spill to disk');
    assert.ok(s.cache.peakRamBytes <= 96 * 1024);
    assert.deepEqual(readdirSync(cacheRoot), [], 'the cache folder is removed');
    assert.match(events[0], /^block 1 of 11: layers\.0\.wq … layers\.0\.wo \(4 layers\)$/);
    assert.match(events[5], /^block 6 of 11: layers\.2\.w1 … layers\.2\.w2 \(3 layers\) · ETA \d+ s$/);
    assert.equal(events.length, 11);
    assert.equal(layerEvents.length, 36);
    assert.match(layerEvents[20], /^block 6 of 11 · layers\.2\.w2 \(gptq 4-bit\) · ETA \d+ s$/);
    // The swapped-out dequantized weights come back bit for bit from the codes.
    s.layers.forEach((l, i) => assert.deepEqual(l.dequant, whole[i].dequant, l.layer));
  });

  test('sequential: the same codes as the whole-model sequential path over the same blocks', async () => {
    const p = plan('sequential');
    const calibrated = calibratedOf(p, model);
    const whole = await quantizeSequential({ plan: p, model, ops: new Map(calibrated.map((l) => [l.name, l.op])), calibrated, batches });
    const s = await streamed(p);
    assert.deepEqual(codeDiff(s.layers, whole.layers), []);
    const par = await streamed(plan('parallel'));
    assert.ok(codeDiff(s.layers, par.layers).length > 20, 'sequential statistics differ from parallel ones after block 1');
    assert.deepEqual(readdirSync(cacheRoot), []);
  });

  test('cancel mid-block leaves no cached activations', async () => {
    const ac = new AbortController();
    let blocks = 0;
    await assert.rejects(
      streamed(plan('sequential'), {
        signal: ac.signal,
        cacheRamBytes: 0,
        onProgress: (e) => {
          if (e.stage === 'quantize' && e.fraction === 0 && /^block \d+ of \d+:/.test(e.message) && ++blocks === 3) ac.abort();
        },
      }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.equal(blocks, 3);
    assert.deepEqual(readdirSync(cacheRoot), []);
  });

  test('an unwritable cache folder is a clear error naming it', async () => {
    const file = join(cacheRoot, 'not-a-folder');
    writeFileSync(file, 'x');
    await assert.rejects(
      streamed(plan('parallel'), { cacheFolder: file }),
      new RegExp(`activation cache: cannot create a folder in ${file}`),
    );
    rmSync(file);
    await assert.rejects(
      streamed(plan('parallel'), { cacheFolder: join(cacheRoot, 'missing', 'deeper') }),
      /activation cache: cannot create a folder in .*missing.*ENOENT/,
    );
  });
});
