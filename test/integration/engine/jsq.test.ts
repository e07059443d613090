/**
 * JSQ end to end on the real Llama-like test model: with sparsity 0 and the editor off it writes the
 * very model SmoothQuant writes; at 50% and 2:4 every layer hits its pattern exactly, the packed
 * sparse file runs in onnxruntime, and the report carries the editor's search.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { runJob } from '../../../engine/job';
import type { LayerPlan } from '../../../protocol/plan';
import { plansOf } from './activationAwareFixture';
import { storiesPlan } from './planFixture';
import { llama } from './sharedFixtures';

const sparse = (layers: LayerPlan[], sparsity: LayerPlan['sparsity']) => layers.map((l) => ({ ...l, sparsity }));

describe(`JSQ on ${llama.name}`, () => {
  test('sparsity 0 and clip_max 0 write the same model as SmoothQuant (W8A8)', async () => {
    const sq = storiesPlan({ layers: plansOf('smoothquant', 8, { alpha: 0.5, activation_bits: 8 }), format: 'packed' });
    const jsq = storiesPlan({ layers: plansOf('jsq', 8, { alpha: 0.5, activation_bits: 8, clip_max: 0 }), format: 'packed' });
    const a = await runJob(sq);
    const b = await runJob(jsq);
    assert.ok(readFileSync(sq.outputPath).equals(readFileSync(jsq.outputPath)), 'the two outputs differ');
    assert.equal(a.metrics.quantized.perplexity, b.metrics.quantized.perplexity);
    for (const l of b.layers) {
      assert.equal(l.sparsity, undefined);
      assert.deepEqual(l.jsq!.search, [{ fraction: 0, error: l.jsq!.search[0].error }]);
    }
  });

  test('pruner sparsegpt (SparseGPT+SmoothQuant): OBS survivors folded like every weight, w3 included', async () => {
    const plan = storiesPlan({ layers: sparse(plansOf('jsq', 8, { pruner: 'sparsegpt', clip_max: 0 }), { ratio: 0.5 }), format: 'packed' });
    const r = await runJob(plan);
    for (const l of r.layers) {
      assert.ok(Math.abs(l.sparsity!.pruned - 0.5) < 1e-9, l.name);
      // A lost output-channel fold (w3 absorbs w2's 1/s) showed as rel_error ≈ 0.9 on every w3.
      assert.ok(l.rel_error < 0.15, `${l.name}: rel_error ${l.rel_error}`);
    }
  });

  for (const [name, sparsity] of [
    ['50%', { ratio: 0.5 }],
    ['2:4', { n: 2, m: 4 }],
  ] as [string, LayerPlan['sparsity']][])
    test(`${name} W4A8: exact pattern per layer, packed file runs, the editor's search in the report`, async () => {
      const plan = storiesPlan({ layers: sparse(plansOf('jsq', 4), sparsity), format: 'packed' });
      const r = await runJob(plan);
      assert.ok(Number.isFinite(r.metrics.quantized.perplexity), 'onnxruntime did not evaluate the packed model');
      for (const l of r.layers) {
        assert.equal(l.method, 'jsq');
        const want = 'ratio' in sparsity! ? Math.floor(0.5 * l.shape[1]) / l.shape[1] : 0.5;
        assert.ok(Math.abs(l.sparsity!.pruned - want) < 1e-9, `${l.name}: pruned ${l.sparsity!.pruned}, want ${want}`);
        assert.equal(l.smoothing!.activation_bits, 8);
        assert.equal(l.jsq!.rho, 2.1);
        assert.equal(l.jsq!.search.length, 8);
        const best = Math.min(...l.jsq!.search.map((s) => s.error));
        assert.equal(l.jsq!.search.find((s) => s.fraction === l.jsq!.clip_fraction)!.error, best);
        assert.equal(l.jsq!.clip_threshold === null, l.jsq!.clip_fraction === 0);
      }
    });
});
