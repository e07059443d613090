/**
 * Sequential calibration for AWQ / SmoothQuant / OS+ on the real stories260K: each block's statistics
 * come from the model whose earlier blocks are transformed and quantized, the transforms fold exactly,
 * and a frozen (already quantized) layer is never changed by a later fold.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { calibrate, type Feeds, type InputStatistics } from '../../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../../engine/calibrate/calibrationData';
import { activationAwarePrepare, quantizeSequential, type BlockPrepare } from '../../../../engine/calibrate/sequential';
import { fakeQuantBytes } from '../../../../engine/exportStep';
import { CALIBRATED_OPS, planLayers } from '../../../../engine/job';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import { foldInputTransforms, scaleGroups } from '../../../../engine/transforms';
import type { LayerPlan } from '../../../../protocol/plan';
import { plansOf } from '../activationAwareFixture';
import { relErr, runModel, tokens } from '../exportFixtures';
import { storiesPlan } from '../planFixture';
import { skipNoShared } from '../sharedFixtures';

/** max |a − b| / max |b| over a Hessian and the channel |x| statistics. */
function statsDistance(a: InputStatistics, b: InputStatistics): number {
  const rel = (x: ArrayLike<number>, y: ArrayLike<number>) => {
    let num = 0,
      den = 0;
    for (let i = 0; i < y.length; i++) {
      num = Math.max(num, Math.abs(x[i] - y[i]));
      den = Math.max(den, Math.abs(y[i]));
    }
    return den > 0 ? num / den : num;
  };
  return Math.max(
    rel(a.hessian.matrix(), b.hessian.matrix()),
    rel(a.stats.absMax, b.stats.absMax),
    rel(a.stats.absMean(), b.stats.absMean()),
  );
}

describe('sequential calibration with AWQ / SmoothQuant / OS+ on stories260K', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let batches: Feeds[];
  const plan = (layers: LayerPlan[]) => {
    const p = storiesPlan({ layers, format: 'fake' });
    p.calibration = { ...p.calibration, mode: 'sequential' } as typeof p.calibration;
    return p;
  };
  const run = (layers: LayerPlan[], prepare?: BlockPrepare) => {
    const p = plan(layers);
    const calibrated = planLayers(p, model).filter((l) => CALIBRATED_OPS.has(l.op));
    return quantizeSequential({ plan: p, model, ops: new Map(calibrated.map((l) => [l.name, l.op])), calibrated, batches, prepare });
  };
  before(async () => {
    model = await loadModel(storiesPlan({ layers: [] }).modelPath);
    batches = (await calibrationFeeds(storiesPlan({ layers: [] }).calibration, model.summary(), undefined)).batches;
  });

  test('block 0 sees the FP statistics; every later block sees those of the transformed + quantized prefix', async (t) => {
    const layers = plansOf('awq', 3);
    const parallel = await calibrate({ model, layers: planLayers(plan(layers), model), batches, threads: 1 });
    const seen: { index: number; stats: Map<string, InputStatistics>; frozen: string[] }[] = [];
    const inner = activationAwarePrepare();
    const r = await run(layers, async (ctx) => {
      seen.push({ index: ctx.index, stats: ctx.stats, frozen: [...ctx.frozen] });
      return inner(ctx);
    });
    assert.deepEqual(
      r.layers.map((l) => l.layer),
      layers.map((l) => l.name),
    );
    // Blocks are cut at the residual stream: attention (4 layers) and MLP (3 layers) of layers.0 … layers.4, then output.
    assert.deepEqual(
      seen.map((s) => s.index),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    const distances: string[] = [];
    for (const { index, stats, frozen } of seen) {
      assert.equal(frozen.length, 7 * Math.floor(index / 2) + (index % 2 ? 4 : 0), `block ${index}: frozen ${frozen}`);
      assert.ok(stats.size > 0);
      for (const s of stats.values()) {
        const p = parallel.get(model.layerInput(s.layers[0]));
        assert.ok(p, `block ${index}: no parallel statistics for ${s.layers}`);
        assert.equal(s.tensor, p.tensor);
        assert.equal(s.stats.tokens, p.stats.tokens);
        const d = statsDistance(s, p);
        distances.push(`${s.layers[0]} ${d.toExponential(2)}`);
        if (index === 0) {
          assert.deepEqual(s.hessian.matrix(), p.hessian.matrix(), `${s.layers}: block 0 Hessian differs from parallel`);
          assert.deepEqual(s.stats.absMax, p.stats.absMax);
          assert.deepEqual(s.stats.absSum, p.stats.absSum);
        } else {
          // Far above float rounding (an exact fold alone moves them by ~1e-7): the quantized prefix is in the model.
          assert.ok(d > 1e-3, `${s.layers}: block ${index} statistics are the FP ones (distance ${d})`);
        }
      }
    }
    t.diagnostic(`max rel. distance sequential vs parallel statistics: ${distances.join(' | ')}`);
    for (const l of r.layers) assert.ok(l.report.awq && l.report.awq.alpha >= 0 && l.report.awq.alpha < 1, l.layer);
  });

  for (const [method, settings] of [
    ['awq', {}],
    ['smoothquant', { alpha: 0.5 }],
    ['osplus', { shift: true }],
  ] as const) {
    test(`${method}: the transforms of all blocks fold exactly (FP logits kept); the quantized weights are the folded model's`, async () => {
      const layers = plansOf(method, 3, settings);
      const r = await run(layers);
      assert.notEqual(r.model, model, 'nothing was folded');
      const feeds = { input_ids: tokens(2, 24) };
      const fp = await runModel(model.serialize(), feeds, 'logits');
      const folded = await runModel(r.model.serialize(), feeds, 'logits');
      assert.ok(relErr(folded, fp) < 1e-5, `fold changed the logits: rel ${relErr(folded, fp)}`);
      for (const q of r.layers) {
        assert.ok(method === 'awq' ? q.report.awq : q.report.smoothing, `${q.layer}: no ${method} details`);
        const w = r.model.getWeight(q.layer);
        // A 3-bit quantization of the folded weight: near it, not equal to it.
        const rel = relErr(q.dequant, w.data);
        assert.ok(rel > 0 && rel < 0.5, `${q.layer}: dequant vs folded weight rel ${rel}`);
      }
      const quantized = await runModel(fakeQuantBytes(r.model, r.layers), feeds, 'logits');
      assert.ok(relErr(quantized, fp) > 0 && relErr(quantized, fp) < 1, `quantized logits rel ${relErr(quantized, fp)}`);
    });
  }

  test('a fold never changes an already-quantized layer: a frozen producer gets a Mul, a frozen consumer is an error', async () => {
    const g = scaleGroups(model).find((x) => x.layers.includes('layers.0.w2'))!;
    assert.equal(g.producer.kind, 'linear'); // w2's input is silu(w1 x)·(w3 x): w3's output columns absorb 1/s
    const scale = Float32Array.from({ length: model.layer('layers.0.w2').shape[1] }, (_, i) => 1 + (i % 7) / 4);
    const producer = (g.producer as { layer: string }).layer;
    const r = foldInputTransforms(model, [{ layers: g.layers, scale }], { frozen: new Set([producer]) });
    assert.equal(r.groups[0].how, 'mul');
    assert.match(r.groups[0].reason!, /already quantized/);
    assert.deepEqual(r.model.getWeight(producer).data, model.getWeight(producer).data);
    const feeds = { input_ids: tokens(2, 24) };
    const fp = await runModel(model.serialize(), feeds, 'logits');
    assert.ok(relErr(await runModel(r.model.serialize(), feeds, 'logits'), fp) < 1e-5);
    assert.throws(
      () => foldInputTransforms(model, [{ layers: g.layers, scale }], { frozen: new Set(['layers.0.w2']) }),
      /layers \[layers\.0\.w2\] .*already quantized/,
    );
  });
});
