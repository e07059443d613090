/**
 * AWQ, SmoothQuant, OS+ and JSQ streamed block by block on the real stories260K: each block's scales are
 * searched on its own statistics and folded into the running model before its layers are quantized.
 * In both modes the streamed path gives the whole-model path's codes, scales, dequantized weights,
 * report details and folded model (every initializer, and so the export) bit for bit; cancelling
 * mid-block leaves no cached activations.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { calibrate, statisticsView, type Feeds } from '../../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../../engine/calibrate/calibrationData';
import { quantizeSequential } from '../../../../engine/calibrate/sequential';
import { planLayers } from '../../../../engine/job';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import { prepareActivationAware } from '../../../../engine/quantize/activationAware';
import { quantizeLayers, type QuantizedLayer } from '../../../../engine/quantize/quantizeLayers';
import type { QuantizedWeightLike } from '../../../../engine/export/types';
import type { JobPlan, LayerPlan, Method } from '../../../../protocol/plan';
import { layerPlans, storiesPlan } from '../planFixture';
import { skipNoShared } from '../sharedFixtures';
import { calibratedOf, inMode, streamRun } from './streamRun';

/** Every difference between two runs' layers: codes, scales, zeros, dequantized weights, report details. */
function layerDiff(a: QuantizedLayer[], b: QuantizedLayer[]): string[] {
  assert.deepEqual(
    a.map((l) => l.layer),
    b.map((l) => l.layer),
  );
  const out: string[] = [];
  const same = (x: ArrayLike<number> | undefined, y: ArrayLike<number> | undefined) =>
    x === y || (!!x && !!y && x.length === y.length && Array.prototype.every.call(x, (v: number, k: number) => Object.is(v, y[k])));
  a.forEach((l, i) => {
    const qa = l.q as QuantizedWeightLike,
      qb = b[i].q as QuantizedWeightLike;
    let codes = 0;
    for (let k = 0; k < qa.codes.length; k++) if (qa.codes[k] !== qb.codes[k]) codes++;
    if (codes) out.push(`${l.layer}: ${codes} codes differ`);
    if (!same(qa.scales, qb.scales)) out.push(`${l.layer}: scales differ`);
    if (!same(qa.zeros, qb.zeros)) out.push(`${l.layer}: zeros differ`);
    if (!same(l.dequant, b[i].dequant)) out.push(`${l.layer}: dequant differs`);
    const details = (r: QuantizedLayer) =>
      JSON.stringify({ awq: r.report.awq, smoothing: r.report.smoothing, jsq: r.report.jsq, sparsity: r.report.sparsity });
    if (details(l) !== details(b[i])) out.push(`${l.layer}: report details ${details(l)} vs ${details(b[i])}`);
  });
  return out;
}

/** Initializers (name → bytes) and node op sequence of a model, to compare folded models. */
function modelDiff(a: OnnxModel, b: OnnxModel): string[] {
  const out: string[] = [];
  const ops = (m: OnnxModel) => m.graph.node.map((n) => `${n.opType}(${n.input.join(',')})->${n.output.join(',')}`);
  if (JSON.stringify(ops(a)) !== JSON.stringify(ops(b))) out.push('the graphs differ');
  // The tensor as stored (typed arrays as base64; external ones stay references).
  const json = (t: unknown) =>
    JSON.stringify(t, (_k, v: unknown) =>
      ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : v,
    );
  const bytes = (m: OnnxModel) => new Map(m.graph.initializer.map((t) => [t.name, json(t)]));
  const ba = bytes(a),
    bb = bytes(b);
  if (ba.size !== bb.size) out.push(`${ba.size} vs ${bb.size} initializers`);
  for (const [k, v] of ba) if (bb.get(k) !== v) out.push(`initializer ${k} differs`);
  return out;
}

const CASES: { method: Method; bits: number; settings: Record<string, unknown>; sparsity?: LayerPlan['sparsity'] }[] = [
  { method: 'awq', bits: 4, settings: {} },
  { method: 'smoothquant', bits: 4, settings: { activation_bits: 8 } },
  { method: 'osplus', bits: 4, settings: { shift: true, activation_bits: 6 } },
  // JSQ folds like SmoothQuant; its token sample comes from the same per-block statistics pass.
  { method: 'jsq', bits: 8, settings: { activation_bits: 8 }, sparsity: { ratio: 0.5 } },
];

describe('AWQ / SmoothQuant / OS+ / JSQ streamed on stories260K', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let batches: Feeds[];
  let cacheRoot: string;
  const plan = (c: (typeof CASES)[number], mode: 'parallel' | 'sequential'): JobPlan => {
    const layers = layerPlans(c.method, c.bits, 32, undefined, c.settings).map((l) => (c.sparsity ? { ...l, sparsity: c.sparsity } : l));
    return inMode(storiesPlan({ layers, format: 'matmulnbits' }), mode);
  };
  const streamed = (p: JobPlan, extra: Parameters<typeof streamRun>[4] = {}) => streamRun(p, model, batches, cacheRoot, extra);
  /** The job's whole-model paths (engine/job.ts): one calibration pass then the step, or sequential.ts. */
  const whole = async (p: JobPlan): Promise<{ layers: QuantizedLayer[]; model: OnnxModel }> => {
    const calibrated = calibratedOf(p, model);
    const ops = new Map(calibrated.map((l) => [l.name, l.op]));
    if (p.calibration.mode === 'sequential') return quantizeSequential({ plan: p, model, ops, calibrated, batches });
    const stats = await calibrate({ model, layers: calibrated, batches, threads: 1 });
    const prep = await prepareActivationAware({ layers: p.layers, model, stats, threads: 1 });
    const layers = await quantizeLayers({
      plan: p,
      model: statisticsView(prep.model, planLayers(p, prep.model)),
      ops,
      stats: prep.stats,
      prepared: prep.details,
    });
    return { layers, model: prep.model };
  };
  before(async () => {
    model = await loadModel(plan(CASES[0], 'parallel').modelPath);
    batches = (await calibrationFeeds(plan(CASES[0], 'parallel').calibration, model.summary(), undefined)).batches;
    cacheRoot = mkdtempSync(join(tmpdir(), 'lowbit-stream-fold-'));
  });
  after(() => rmSync(cacheRoot, { recursive: true, force: true }));

  for (const c of CASES)
    for (const mode of ['parallel', 'sequential'] as const)
      test(`${c.method} ${JSON.stringify(c.settings)}, ${mode}: the whole-model path's codes, scales and folded model`, async () => {
        const p = plan(c, mode);
        const w = await whole(p);
        const s = await streamed(p);
        assert.deepEqual(layerDiff(s.layers, w.layers), []);
        assert.deepEqual(modelDiff(s.model, w.model), []);
        assert.notEqual(s.model, model, 'the scales were folded into a copy of the model');
        assert.deepEqual(readdirSync(cacheRoot), [], 'the cache folder is removed');
        // Not vacuous: the step changed weights and (sequential) the quantized prefix changed the statistics.
        assert.ok(modelDiff(s.model, model).length > 0, 'the folds changed the model');
        if (mode === 'sequential' && c.method === 'awq')
          assert.ok(layerDiff(s.layers, (await streamed(plan(c, 'parallel'))).layers).length > 20);
      });

  test('cancel mid-block (AWQ, sequential) leaves no cached activations', async () => {
    const ac = new AbortController();
    let blocks = 0;
    await assert.rejects(
      streamed(plan(CASES[0], 'sequential'), {
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
});
