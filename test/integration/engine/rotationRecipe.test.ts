/** `rotation:` from the recipe: the plan carries it, and a model that cannot be rotated is a diagnostic naming the node (real models, real loader). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecipePlan } from '../../../recipe/load';
import { modelHost } from '../../../language-server/src/services/modelSource';
import { inspectModel } from '../../../engine/onnx/inspect';
import { buildBertEncoder } from '../../fixtures/llm';
import { buildLayerNormDecoder } from '../../fixtures/llm/layerNormDecoder';
import { skipNoShared, stories } from './sharedFixtures';

describe('rotation in recipes', { skip: skipNoShared }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-rotation-recipe-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const recipe = (model: string, rotation: string) => {
    const p = join(dir, `r${Math.random().toString(36).slice(2)}.lowbit.yaml`);
    writeFileSync(p, `model: ${model}\noutput: ${join(dir, 'out.onnx')}\nformat: fake\n${rotation}\ndefaults:\n  method: rtn\n  bits: 4\n`);
    return p;
  };

  test('the model summary says whether rotation applies', async () => {
    assert.deepEqual((await inspectModel(stories.model)).rotation, { size: 64 });
  });

  test('rotation: {method: hadamard, seed, online} reaches the plan; none leaves it out', async () => {
    const a = await loadRecipePlan(recipe(stories.model, 'rotation:\n  method: hadamard\n  seed: 5\n  online: down'), modelHost);
    assert.deepEqual(
      a.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.deepEqual(a.plan?.rotation, { method: 'hadamard', seed: 5, online: 'down' });
    const b = await loadRecipePlan(recipe(stories.model, 'rotation:\n  method: none'), modelHost);
    assert.equal(b.plan?.rotation, undefined);
  });

  test('an unrotatable model is an error on `rotation.method` naming the obstacle; no plan', async () => {
    const f = buildBertEncoder(dir, {});
    const p = recipe(f.path, 'rotation:\n  method: hadamard');
    const r = await loadRecipePlan(p, modelHost);
    assert.equal(r.plan, undefined);
    const d = r.diagnostics.find((x) => x.message.includes('rotation: hadamard'));
    assert.ok(d, JSON.stringify(r.diagnostics));
    assert.equal(d!.severity, 'error');
    assert.equal(d!.line, 5);
    assert.match(
      d!.message,
      /cannot rotate this model: LayerNormalization '\/bert\/embeddings\/LayerNorm\/LayerNormalization': is a post-LN norm/,
    );
    // Without rotation the same model plans fine.
    const ok = await loadRecipePlan(recipe(f.path, ''), modelHost);
    assert.ok(!ok.diagnostics.some((x) => x.severity === 'error'), JSON.stringify(ok.diagnostics));
  });

  test('a pre-LN LayerNorm decoder (GPT-2 style) is rotatable: no diagnostic, the plan carries the rotation', async () => {
    const f = buildLayerNormDecoder(dir, { norm: 'decomposed' });
    assert.deepEqual((await inspectModel(f.path)).rotation, { size: 64 });
    const r = await loadRecipePlan(recipe(f.path, 'rotation:\n  method: hadamard\n  seed: 2'), modelHost);
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'error'),
      [],
    );
    assert.deepEqual(r.plan?.rotation, { method: 'hadamard', seed: 2, online: 'none' });
  });

  test('a bad value is a schema error', async () => {
    const r = await loadRecipePlan(recipe(stories.model, 'rotation:\n  method: givens'), modelHost);
    assert.ok(
      r.diagnostics.some((x) => x.severity === 'error' && /givens/.test(x.message)),
      JSON.stringify(r.diagnostics),
    );
  });
});
