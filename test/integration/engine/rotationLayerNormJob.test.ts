/** `rotation: hadamard` on a GPT-2-style LayerNorm decoder through whole jobs: RTN and GPTQ on the rotated weights, outputs run in onnxruntime. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelLogits } from '../../fixtures/llm';
import { runJob } from '../../../engine/job';
import { loadModel } from '../../../engine/onnx';
import { buildLayerNormDecoder, type LayerNormDecoder } from '../../fixtures/llm/layerNormDecoder';
import { layerPlans, storiesPlan } from './planFixture';
import { skipNoShared } from './sharedFixtures';

const T = 24;
const logits = (model: string) =>
  modelLogits(
    model,
    Array.from({ length: T }, (_, i) => (i * 53 + 3) % 512),
  );

describe('rotation of a LayerNorm decoder in a job', { skip: skipNoShared }, () => {
  let dir: string;
  let f: LayerNormDecoder;
  let layers: string[];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-rot-ln-job-'));
    f = buildLayerNormDecoder(dir, { norm: 'layernorm' });
    layers = (await loadModel(f.path)).layers.filter((l) => l.quantizable && l.op !== 'Gather').map((l) => l.name);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const plan = (method: 'rtn' | 'gptq', bits: number, online: 'none' | 'down') => {
    const p = storiesPlan({
      modelPath: f.path,
      layers: layerPlans(method, bits, 32, layers),
      format: 'matmulnbits',
      accuracyLevel: 0,
      rotation: { method: 'hadamard', seed: 4, online },
    });
    if (p.calibration.kind === 'text') p.calibration = { ...p.calibration, samples: 4, sequenceLength: 64 };
    if (p.evaluation.kind === 'text')
      p.evaluation = { ...p.evaluation, samples: 4, sequenceLength: 128, metrics: ['perplexity', 'kl_divergence'] };
    return p;
  };

  test('RTN 8-bit after rotation (online down): the output runs in onnxruntime, perplexity within 1% of FP; the report says the LayerNorms were rewritten', async () => {
    assert.ok(layers.includes('transformer.wte.weight@/lm_head/MatMul') && layers.length === 13, layers.join(', '));
    const p = plan('rtn', 8, 'down');
    const r = await runJob(p);
    const ln = r.rotation?.layer_norm;
    assert.equal(ln?.rewritten.length, 5);
    assert.deepEqual(r.rotation?.tables, ['transformer.wpe.weight']);
    assert.equal(r.rotation?.online?.length, 2);
    assert.ok(r.layers.every((l) => l.format === 'matmulnbits'));
    const fp = r.metrics.fp.perplexity!,
      q = r.metrics.quantized.perplexity!;
    assert.ok(Math.abs(q - fp) < 0.01 * fp, `ppl ${q} vs fp ${fp}`);
    const out = await logits(p.outputPath),
      ref = await logits(f.path);
    let worst = 0,
      scale = 0;
    for (let i = 0; i < ref.length; i++) {
      worst = Math.max(worst, Math.abs(out[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    assert.ok(worst < 0.05 * scale, `8-bit logits off by ${worst} (max |logit| ${scale})`);
  });

  for (const method of ['rtn', 'gptq'] as const)
    test(`${method.toUpperCase()} 4-bit after rotation: the job completes and its output runs in onnxruntime with finite logits`, async () => {
      const p = plan(method, 4, 'none');
      const r = await runJob(p);
      assert.equal(r.rotation?.layer_norm?.rewritten.length, 5);
      assert.ok(
        Number.isFinite(r.metrics.quantized.perplexity) && Number.isFinite(r.metrics.kl_divergence?.mean),
        JSON.stringify(r.metrics),
      );
      const out = await logits(p.outputPath);
      assert.ok(out.every(Number.isFinite));
      const g = (await loadModel(p.outputPath)).graph.node.map((n) => n.opType);
      assert.equal(g.filter((o) => o === 'MatMulNBits').length, 13);
      assert.ok(!g.includes('LayerNormalization'));
    });
});
