/** QuaRot-style offline rotation on stories260K and the KV-cache decoder fixtures, run in onnxruntime-node. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type OnnxModel } from '../../../engine/onnx';
import { findRotationPlan, rotateModel, RotationUnsupported } from '../../../engine/transforms/rotation';
import { randomizedHadamard } from '../../../engine/transforms/rotationHadamard';
import { runModel, tokens } from './exportFixtures';
import { skipNoShared, stories } from './sharedFixtures';
import { buildBertEncoder, buildModelBuilderDecoder, buildOptimumDecoder, fullLogits, maxAbsDiff, openDecoder } from '../../fixtures/llm';
import { buildTiedStories } from '../../fixtures/llm/tiedStories';
import { attr, makeNode } from '../../../engine/export/graphEdit';

const IDS = [1, 403, 407, 261, 378, 395, 259, 281, 300, 412, 290, 377];

describe('rotation: stories260K', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let fp: Float32Array;
  const feeds = { input_ids: tokens(2, 32) };
  before(async () => {
    model = await loadModel(stories.model);
    fp = await runModel(model.serialize(), feeds, 'logits');
  });

  test('the plan finds the embedding, 5·4+1 readers, 5·2 writers and 11 RMSNorms from the graph', () => {
    const p = findRotationPlan(model);
    assert.equal(p.size, 64);
    assert.equal(p.embedding.layer, 'tok_embeddings');
    const readers = p.readers.map((r) => r.layer).sort();
    const want = [...Array(5).keys()].flatMap((i) => ['wq', 'wk', 'wv', 'w1', 'w3'].map((w) => `layers.${i}.${w}`)).concat('output');
    assert.deepEqual(readers, want.sort());
    assert.deepEqual(
      p.writers.map((w) => w.layer).sort(),
      [...Array(5).keys()].flatMap((i) => [`layers.${i}.wo`, `layers.${i}.w2`]).sort(),
    );
    assert.equal(p.norms.length, 11);
    assert.ok(p.readers.every((r) => r.gamma));
  });

  test('logits unchanged to 1e-4 for several seeds; weights really rotated; the source model untouched', async () => {
    for (const seed of [0, 1, 12345]) {
      const { model: rot, record } = rotateModel(model, { seed });
      assert.equal(record.size, 64);
      assert.equal(record.construction, 'hadamard 2^6');
      assert.equal(record.readers.length, 26);
      const out = await runModel(rot.serialize(), feeds, 'logits');
      const diff = maxAbsDiff(out, fp);
      assert.ok(diff < 1e-4, `seed ${seed}: max |Δlogit| = ${diff}`);
      // The weights changed (not an identity transform): E·R differs from E.
      const e0 = model.getWeight('tok_embeddings').data,
        e1 = rot.getWeight('tok_embeddings').data;
      assert.ok(maxAbsDiff(e0, e1) > 0.01);
      // Row norms of the embedding are kept (R orthogonal).
      let n0 = 0,
        n1 = 0;
      for (let j = 0; j < 64; j++) {
        n0 += e0[j] ** 2;
        n1 += e1[j] ** 2;
      }
      assert.ok(Math.abs(n0 - n1) < 1e-4 * n0);
    }
    assert.deepEqual(await runModel(model.serialize(), feeds, 'logits'), fp);
  });

  test('online rotations (down: 5 MLP down projections; all: + 5 attention outputs) keep the logits to 1e-4', async () => {
    for (const [online, n] of [
      ['down', 5],
      ['all', 10],
    ] as const) {
      const { model: rot, record } = rotateModel(model, { seed: 4, online });
      assert.equal(record.online?.length, n, online);
      if (online === 'down')
        assert.deepEqual(
          record.online!.map((o) => o.layer),
          [...Array(5).keys()].map((i) => `layers.${i}.w2`),
        );
      assert.equal(record.online![0].size, online === 'down' ? 172 : 64);
      const mm = rot.graph.node.filter((x) => x.opType === 'MatMul' && x.name?.endsWith('_online_rotation_MatMul'));
      assert.equal(mm.length, n);
      const diff = maxAbsDiff(await runModel(rot.serialize(), feeds, 'logits'), fp);
      assert.ok(diff < 1e-4, `${online}: max |Δlogit| = ${diff}`);
    }
  });

  test('a non-orthogonal R breaks the logits (the test can fail)', async () => {
    const good = randomizedHadamard(64, 0);
    const bad = { ...good, applyRows: undefined, apply: (v: Float64Array) => (good.apply(v), v.forEach((x, i) => (v[i] = x * 1.01))) };
    const { model: rot } = rotateModel(model, { seed: 0, rotation: bad });
    const out = await runModel(rot.serialize(), feeds, 'logits');
    assert.ok(maxAbsDiff(out, fp) > 1e-3);
  });

  test('norm γ folded: every γ is 1 after rotation', () => {
    const { model: rot } = rotateModel(model, { seed: 0 });
    for (const name of ['norm', ...[...Array(5).keys()].flatMap((i) => [`layers.${i}.attention_norm`, `layers.${i}.ffn_norm`])]) {
      const ref = rot.consts.resolve(name)!;
      assert.ok(
        rot.consts.value(ref).data.every((x) => x === 1),
        name,
      );
    }
  });
});

describe('rotation: KV-cache decoder fixtures and unrotatable graphs', { skip: skipNoShared }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-rotation-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [style, build] of [
    ['optimum', buildOptimumDecoder],
    ['model-builder', buildModelBuilderDecoder],
  ] as const)
    test(`${style} decoder: full-sequence logits through the cache unchanged to 1e-4`, async () => {
      const f = build(dir, { storiesModel: stories.model, fileName: `${style}.onnx` });
      const m = await loadModel(f.path);
      const { model: rot, record } = rotateModel(m, { seed: 3 });
      assert.ok(record.writers.length === 10, `${record.writers.length} writers`);
      const rotPath = join(dir, `${style}-rotated.onnx`);
      writeFileSync(rotPath, rot.serialize());
      const s0 = await openDecoder(f.path),
        s1 = await openDecoder(rotPath);
      const a = await fullLogits(s0, f, IDS),
        b = await fullLogits(s1, f, IDS);
      const diff = maxAbsDiff(a, b);
      assert.ok(diff < 1e-4, `max |Δlogit| = ${diff}`);
      await s0.release();
      await s1.release();
    });

  test('a BERT encoder (post-LN) is refused, naming its first LayerNorm; the model is left as it was', async () => {
    const f = buildBertEncoder(dir, {});
    const m = await loadModel(f.path);
    const before = m.serialize();
    assert.throws(
      () => rotateModel(m, { seed: 0 }),
      (e: Error) =>
        e instanceof RotationUnsupported &&
        e.message.startsWith(
          `${f.path}: rotation: LayerNormalization '/bert/embeddings/LayerNorm/LayerNormalization': is a post-LN norm (BERT, the original Transformer): its output '/bert/embeddings/LayerNorm/LayerNormalization_output_0' is itself the residual stream (Add '/bert/encoder/layer.0/attention/output/Add_1' reads it)`,
        ),
    );
    assert.deepEqual(m.serialize(), before);
  });

  test('a LayerNormalization on a stream that also has RMSNorms is refused, naming an RMSNorm (centring would change it)', async () => {
    // stories260K with its final RMSNorm's normalize step replaced by a LayerNormalization of the stream.
    const m = await loadModel(stories.model);
    const g = m.proto.graph!;
    const pow = g.node.find((n) => n.name === '/Pow')!;
    const mul = g.node.find((n) => n.name === '/Mul')!;
    const mul1 = g.node.find((n) => n.name === '/Mul_1')!;
    g.node.splice(g.node.indexOf(pow), 1);
    g.node.splice(g.node.indexOf(mul), 1);
    g.node.splice(g.node.indexOf(mul1), 1, { ...mul1, opType: 'LayerNormalization', name: '/final_ln', input: [pow.input[0], 'norm'] });
    const p = join(dir, 'layernorm.onnx');
    writeFileSync(p, m.serialize());
    const ln = await loadModel(p);
    assert.throws(
      () => findRotationPlan(ln),
      (e: Error) =>
        e instanceof RotationUnsupported &&
        e.message.includes(p) &&
        / '[^']+': is an RMSNorm on a residual stream that also has LayerNorms \(\/final_ln\); centring the stream for the LayerNorms would change its output$/.test(
          e.message,
        ),
    );
  });

  test('a mean subtraction that is not a whole decomposed LayerNorm is refused, naming the Sub', async () => {
    // stories260K's final RMSNorm made a LayerNorm by centring its input: c = x − ReduceMean(x).
    const m = await loadModel(stories.model);
    const g = m.proto.graph!;
    const pow = g.node.find((n) => n.name === '/Pow')!;
    const mul = g.node.find((n) => n.name === '/Mul')!;
    const x = pow.input[0];
    g.node.splice(
      g.node.indexOf(pow),
      0,
      makeNode('ReduceMean', [x], ['ln_mean'], '/ln_mean', [attr.ints('axes', [-1])]),
      makeNode('Sub', [x, 'ln_mean'], ['ln_centred'], '/ln_sub'),
    );
    pow.input[0] = 'ln_centred';
    mul.input = mul.input.map((i) => (i === x ? 'ln_centred' : i));
    assert.throws(
      () => findRotationPlan(m),
      (e: Error) =>
        e instanceof RotationUnsupported &&
        /Sub '\/ln_sub': subtracts the mean of the residual stream '[^']+' but is not a LayerNorm \(the centred 'ln_centred' is not read by exactly one Pow and one Div\)/.test(
          e.message,
        ),
    );
  });

  test('a tied embedding is untied: the head gets its own copy (size cost recorded), logits unchanged to 1e-4', async () => {
    const p = buildTiedStories(dir, stories.model);
    const m = await loadModel(p);
    const head = m.layers.find((l) => l.tiedWith === 'tok_embeddings')!;
    assert.ok(head, 'the fixture has a tied head');
    assert.equal(findRotationPlan(m).tiedHead, head.name);
    const before = m.serialize();
    const feeds = { input_ids: tokens(2, 32) };
    const fp = await runModel(before, feeds, 'logits');
    for (const seed of [0, 7]) {
      const { model: rot, record } = rotateModel(m, { seed });
      assert.deepEqual(record.untied, { embedding: 'tok_embeddings', head: head.name, bytes: 512 * 64 * 4 });
      assert.ok(record.readers.includes(head.name));
      const diff = maxAbsDiff(await runModel(rot.serialize(), feeds, 'logits'), fp);
      assert.ok(diff < 1e-4, `seed ${seed}: max |Δlogit| = ${diff}`);
      // The two sides are separate tensors now, both rotated, and no longer equal (up to the transpose).
      const rh = rot.layers.find((l) => l.name === head.name)!;
      assert.ok(rh, `layer '${head.name}' keeps its name: ${rot.layers.map((l) => l.name).join(', ')}`);
      assert.equal(rh.tiedWith, undefined);
      assert.notEqual(rh.ref.source, 'tok_embeddings');
      assert.equal(rot.graph.node.filter((n) => n.opType === 'Transpose' && n.input[0] === 'tok_embeddings').length, 0);
      const e = rot.getWeight('tok_embeddings').data,
        h = rot.consts.value(rh.ref).data; // [64, 512]
      let maxD = 0;
      for (let v = 0; v < 512; v++) for (let j = 0; j < 64; j++) maxD = Math.max(maxD, Math.abs(e[v * 64 + j] - h[j * 512 + v]));
      assert.ok(maxD > 1e-3, 'the head is not the embedding any more (the final γ is folded into it)');
      assert.ok(rot.serialize().length - before.length > 512 * 64 * 4 * 0.99, 'the copy costs one table');
    }
    assert.deepEqual(m.serialize(), before, 'the source model is untouched');
  });
});
