import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { relativeError } from '../../../../native/ts/index';
import { calibrate } from '../../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../../engine/calibrate/calibrationData';
import { openSession } from '../../../../engine/evaluate/ortSession';
import { planLayers } from '../../../../engine/job';
import { loadModel } from '../../../../engine/onnx/model';
import { layerPlans, storiesPlan } from '../planFixture';
import { skipNoShared } from '../sharedFixtures';

describe('calibration on stories260K', { skip: skipNoShared }, () => {
  test('one shared accumulator per distinct input; Hessian and |x| stats match a float64 reference', async () => {
    const plan = storiesPlan({ layers: layerPlans('gptq', 4) });
    const model = await loadModel(plan.modelPath);
    const layers = planLayers(plan, model);
    const feeds = await calibrationFeeds({ ...plan.calibration, samples: 4 }, model.summary(), 0, 2);
    assert.equal(feeds.batches.length, 2);
    const stats = await calibrate({ model, layers, batches: feeds.batches, threads: 1 });
    // Per block: attention norm (q,k,v), attention out (o), ffn norm (w1,w3), w2's input; plus the final norm.
    assert.equal(stats.size, 5 * 4 + 1);
    const qkv = stats.get(model.layerInput('layers.0.wq'))!;
    assert.deepEqual(qkv.layers, ['layers.0.wq', 'layers.0.wk', 'layers.0.wv']);
    assert.equal(qkv.stats.tokens, 4 * 128);

    // Reference: fetch the same activations directly and accumulate XᵀX in float64.
    const w2 = stats.get(model.layerInput('layers.1.w2'))!;
    assert.equal(w2.n, 172);
    const session = await openSession(model.withExtraOutputs([w2.tensor]), 1, 'ref');
    const n = w2.n;
    const H = new Float64Array(n * n);
    const absMax = new Float64Array(n),
      absSum = new Float64Array(n);
    let T = 0;
    for (const f of feeds.batches) {
      const x = (await session.run(f, [w2.tensor]))[w2.tensor].data as Float32Array;
      const tokens = x.length / n;
      for (let t = 0; t < tokens; t++) {
        for (let i = 0; i < n; i++) {
          const xi = x[t * n + i];
          absMax[i] = Math.max(absMax[i], Math.abs(xi));
          absSum[i] += Math.abs(xi);
          for (let j = 0; j < n; j++) H[i * n + j] += xi * x[t * n + j];
        }
      }
      T += tokens;
    }
    await session.release();
    assert.equal(w2.stats.tokens, T);
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(w2.stats.absMax[i] - absMax[i]) <= 1e-6 * absMax[i]);
      assert.ok(Math.abs(w2.stats.absSum[i] - absSum[i]) <= 1e-9 * absSum[i] + 1e-9);
    }
    // The native Hessian through relativeError: tr(ΔHΔᵀ)/tr(WHWᵀ) against the reference H (scale-free).
    const W = model.getWeight('layers.1.w2');
    const D = Float32Array.from(W.data, (v, k) => v + 0.01 * Math.sin(k));
    const trace = (A: Float32Array) => {
      let s = 0;
      for (let r = 0; r < W.rows; r++) {
        for (let i = 0; i < n; i++) {
          let hi = 0;
          for (let j = 0; j < n; j++) hi += H[i * n + j] * A[r * n + j];
          s += A[r * n + i] * hi;
        }
      }
      return s;
    };
    const delta = Float32Array.from(W.data, (v, k) => v - D[k]);
    const want = trace(delta) / trace(W.data);
    const got = relativeError(W.data, D, W.rows, W.cols, w2.hessian);
    assert.ok(Math.abs(got - want) <= 1e-4 * want, `native ${got} vs reference ${want}`);
  });

  test('a cancelled calibration stops between batches', async () => {
    const plan = storiesPlan({ layers: layerPlans('gptq', 4, 32, ['output']) });
    const model = await loadModel(plan.modelPath);
    const feeds = await calibrationFeeds(plan.calibration, model.summary(), 0, 2);
    const ac = new AbortController();
    await assert.rejects(
      calibrate({
        model,
        layers: planLayers(plan, model),
        batches: feeds.batches,
        threads: 1,
        signal: ac.signal,
        onBatch: () => ac.abort(),
      }),
      { name: 'AbortError' },
    );
  });
});
