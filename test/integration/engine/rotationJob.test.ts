/** `rotation: hadamard` through a whole job on stories260K: rotated weights exported, measured against the unrotated FP model. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTiedStories } from '../../fixtures/llm/tiedStories';
import { runJob } from '../../../engine/job';
import { loadModel } from '../../../engine/onnx';
import { layerPlans, storiesPlan } from './planFixture';
import { skipNoShared, stories, STORIES_LAYERS } from './sharedFixtures';
import { runModel, tokens } from './exportFixtures';

const FAST = { samples: 4, sequenceLength: 128 } as const;

function plan(over: Parameters<typeof storiesPlan>[0]) {
  const p = storiesPlan(over);
  if (p.evaluation.kind === 'text') p.evaluation = { ...p.evaluation, samples: 8, metrics: ['perplexity', 'kl_divergence'] };
  if (p.calibration.kind === 'text') p.calibration = { ...p.calibration, ...FAST };
  return p;
}

describe('rotation in a job (stories260K)', { skip: skipNoShared }, () => {
  test('rotation with every layer left in FP: the output computes the FP logits; the report records seed, size and layers', async () => {
    const p = plan({ layers: [], format: 'fake', rotation: { method: 'hadamard', seed: 7 } });
    const report = await runJob(p);
    const feeds = { input_ids: tokens(1, 48) };
    const fp = await runModel(stories.model, feeds, 'logits');
    const out = await runModel(p.outputPath, feeds, 'logits');
    let diff = 0;
    for (let i = 0; i < fp.length; i++) diff = Math.max(diff, Math.abs(fp[i] - out[i]));
    assert.ok(diff < 1e-4, `max |Δlogit| = ${diff}`);
    // The output really holds rotated weights (not a copy of the input).
    const a = (await loadModel(stories.model)).getWeight('layers.0.wq').data;
    const b = (await loadModel(p.outputPath)).getWeight('layers.0.wq').data;
    assert.ok(a.some((x, i) => Math.abs(x - b[i]) > 1e-3));
    const r = report.rotation!;
    assert.equal(r.method, 'hadamard');
    assert.equal(r.seed, 7);
    assert.equal(r.size, 64);
    assert.equal(r.layers.length, 36);
    assert.deepEqual(r.layers.filter((l) => l.side === 'writes').length, 10);
    assert.equal(r.norms.length, 11);
    assert.ok(Math.abs(report.metrics.fp.perplexity! - report.metrics.quantized.perplexity!) < 1e-3 * report.metrics.fp.perplexity!);
    assert.deepEqual(JSON.parse(readFileSync(p.reportPath, 'utf8')).rotation, r);
  });

  test('a tied head is untied and both sides rotated in a job: RTN 8-bit within 1% of FP perplexity, the copy size in the report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-rot-tied-'));
    try {
      const model = buildTiedStories(dir, stories.model);
      const head = (await loadModel(model)).layers.find((l) => l.tiedWith === 'tok_embeddings')!.name;
      const p = plan({
        modelPath: model,
        layers: layerPlans('rtn', 8, 32, [...STORIES_LAYERS.filter((l) => l !== 'output'), head]),
        format: 'matmulnbits',
        accuracyLevel: 0,
        rotation: { method: 'hadamard', seed: 3 },
      });
      const r = await runJob(p);
      assert.deepEqual(r.rotation?.untied, { embedding: 'tok_embeddings', head, bytes: 512 * 64 * 4 });
      assert.ok(r.rotation!.layers.some((l) => l.name === head && l.side === 'reads'));
      const h = r.layers.find((l) => l.name === head)!;
      assert.equal(h.format, 'matmulnbits');
      assert.equal(h.tied_with, undefined, 'no longer tied after the rotation');
      const fp = r.metrics.fp.perplexity!,
        q = r.metrics.quantized.perplexity!;
      assert.ok(Math.abs(q - fp) < 0.01 * fp, `ppl ${q} vs fp ${fp}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('RTN 8-bit on the rotated weights, stored as MatMulNBits (rotation + online down projections): within 1% of FP perplexity', async () => {
    const p = plan({
      layers: layerPlans('rtn', 8, 32, STORIES_LAYERS),
      format: 'matmulnbits',
      accuracyLevel: 0,
      rotation: { method: 'hadamard', seed: 2, online: 'down' },
    });
    const r = await runJob(p);
    const fp = r.metrics.fp.perplexity!,
      q = r.metrics.quantized.perplexity!;
    assert.ok(Math.abs(q - fp) < 0.01 * fp, `ppl ${q} vs fp ${fp}`);
    assert.ok(r.layers.every((l) => l.format === 'matmulnbits'));
    assert.equal(r.rotation?.online?.length, 5);
    // The inserted online MatMuls are not quantized layers: they stay float.
    assert.equal(r.layers.length, STORIES_LAYERS.length);
  });

  test('a model that cannot be rotated fails the job before anything is written, naming the node', async () => {
    const { buildBertEncoder } = await import('../../fixtures/llm');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const f = buildBertEncoder(mkdtempSync(join(tmpdir(), 'lowbit-rot-')), {});
    const p = plan({
      layers: [],
      modelPath: f.path,
      format: 'fake',
      rotation: { method: 'hadamard', seed: 0 },
      evaluation: { kind: 'none', metrics: [] },
    });
    await assert.rejects(
      runJob(p),
      (e: Error) => e.message.includes(f.path) && /rotation: LayerNormalization '[^']+': is a post-LN norm/.test(e.message),
    );
    assert.ok(!existsSync(p.outputPath) && !existsSync(p.reportPath));
  });
});
