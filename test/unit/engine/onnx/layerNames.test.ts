import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyReadableNames, isOpaqueWeightName, nodeScope, scopeName } from '../../../../engine/onnx/layerNames';
import { loadModel } from '../../../../engine/onnx';
import { buildBertEncoder, buildModelBuilderDecoder, buildOptimumDecoder } from '../../../fixtures/llm';
import { matchLayers } from '../../../../recipe/match';
import { skipNoStories, storiesModel } from './tinyModels';

describe('readable layer names', () => {
  test('opaque exporter ids are recognised, meaningful names are not', () => {
    for (const n of ['onnx::MatMul_1103', 'val_123', '_v_7', '1234', '/layers.0/Constant_output_0', '/model/Constant_12_output_0'])
      assert.ok(isOpaqueWeightName(n), n);
    for (const n of ['layers.0.wq', 'output', 'conv2d_10.w_0', 'model.layers.0.self_attn.q_proj.weight', 'lm_head.weight'])
      assert.ok(!isOpaqueWeightName(n), n);
  });

  test('the scope names the module; a leading model scope is dropped', () => {
    assert.equal(nodeScope('/model/layers.0/self_attn/q_proj/MatMul'), 'model.layers.0.self_attn.q_proj');
    assert.equal(nodeScope('MatMul_12'), undefined);
    assert.equal(nodeScope('/MatMul'), undefined);
    assert.equal(scopeName('onnx::MatMul_1103', '/model/layers.0/self_attn/q_proj/MatMul'), 'layers.0.self_attn.q_proj');
    assert.equal(scopeName('onnx::MatMul_1200', '/lm_head/MatMul'), 'lm_head');
    assert.equal(scopeName('model.layers.3.attn.qkv_proj.MatMul.weight', '/model/layers.3/attn/qkv_proj/MatMul'), 'layers.3.attn.qkv_proj');
    assert.equal(
      scopeName('bert.encoder.layer.0.attention.self.query.weight', '/bert/encoder/layer.0/attention/self/query/MatMul'),
      'bert.encoder.layer.0.attention.self.query',
    );
    // a named weight that is not the scope + a parameter suffix keeps its name (stories260K: layers.0.wq under /layers.0/MatMul)
    assert.equal(scopeName('layers.0.wq', '/layers.0/MatMul'), undefined);
    assert.equal(scopeName('onnx::MatMul_5', 'MatMul_5'), undefined);
  });

  test('a readable name that would collide keeps the weight names', () => {
    const recs = [
      { name: 'onnx::MatMul_1', node: '/model/layers.0/mlp/MatMul' },
      { name: 'onnx::MatMul_2', node: '/model/layers.0/mlp/MatMul_1' },
      { name: 'onnx::MatMul_3', node: '/model/layers.0/mlp/down_proj/MatMul' },
      { name: 'layers.0.mlp.up_proj', node: 'x' },
      { name: 'onnx::MatMul_4', node: '/model/layers.0/mlp/up_proj/MatMul' },
    ];
    applyReadableNames(recs, () => true);
    assert.deepEqual(
      recs.map((r) => r.name),
      ['onnx::MatMul_1', 'onnx::MatMul_2', 'layers.0.mlp.down_proj', 'layers.0.mlp.up_proj', 'onnx::MatMul_4'],
    );
  });
});

describe('readable names on real exports', { skip: skipNoStories }, () => {
  test('optimum, model-builder and BERT exports: unique, stable, and globs select by module', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-names-'));
    try {
      const opt = buildOptimumDecoder(dir, { storiesModel, fileName: 'opt.onnx' });
      const mb = buildModelBuilderDecoder(dir, { storiesModel, fileName: 'mb.onnx' });
      const bert = buildBertEncoder(dir);
      const tr = buildOptimumDecoder(dir, { storiesModel, fileName: 'tr.onnx', weightsBehindTranspose: true });
      const trNames = (await loadModel(tr.path)).layers.filter((l) => l.quantizable).map((l) => l.name);
      assert.deepEqual(
        trNames,
        (await loadModel(opt.path)).layers.filter((l) => l.quantizable).map((l) => l.name),
        'weights behind Transpose get the same names',
      );
      for (const path of [opt.path, mb.path, bert.path]) {
        const a = (await loadModel(path)).layers.map((l) => l.name),
          b = (await loadModel(path)).layers.map((l) => l.name);
        assert.deepEqual(a, b, 'stable between loads');
        assert.equal(new Set(a).size, a.length, 'unique');
        assert.ok(!a.some((n) => n.startsWith('onnx::')), a.join(', '));
      }
      const q = (await loadModel(opt.path)).layers.filter((l) => l.quantizable && !l.embedding).map((l) => l.name);
      assert.equal(q.length, 36);
      assert.deepEqual(matchLayers('layers.0.*', q), [
        'layers.0.self_attn.q_proj',
        'layers.0.self_attn.k_proj',
        'layers.0.self_attn.v_proj',
        'layers.0.self_attn.o_proj',
        'layers.0.mlp.gate_proj',
        'layers.0.mlp.up_proj',
        'layers.0.mlp.down_proj',
      ]);
      assert.equal(matchLayers('*.self_attn.*_proj', q).length, 20);
      assert.ok(q.includes('lm_head'));
      const m = (await loadModel(mb.path)).layers.filter((l) => l.quantizable).map((l) => l.name);
      assert.deepEqual(matchLayers('layers.4.*', m), [
        'layers.4.attn.qkv_proj',
        'layers.4.attn.o_proj',
        'layers.4.mlp.gate_up_proj',
        'layers.4.mlp.down_proj',
      ]);
      const all = (await loadModel(mb.path)).layers.map((l) => l.name);
      assert.ok(!all.some((n) => /cos_cache|sin_cache/.test(n)), 'rotary caches are not weights');
      const e = (await loadModel(bert.path)).layers.filter((l) => l.quantizable).map((l) => l.name);
      assert.ok(e.includes('bert.encoder.layer.1.output.dense'), e.join(', '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('plain stories260K keeps its weight names', async () => {
    const names = (await loadModel(storiesModel)).layers.map((l) => l.name);
    assert.ok(names.includes('layers.0.wq') && names.includes('output') && names.includes('tok_embeddings'));
  });
});
