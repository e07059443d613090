/** Exact scale / shift folding (AWQ, SmoothQuant, OS+) on the real stories260K in onnxruntime-node. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { loadModel, type OnnxModel } from '../../../engine/onnx';
import { EditState } from '../../../engine/transforms/editState';
import { foldInputScales, foldInputTransforms, scaleGroups } from '../../../engine/transforms';
import { exportModel } from '../../../engine/export';
import { relErr, rtn, runModel, tokens } from './exportFixtures';
import { skipNoShared, stories } from './sharedFixtures';
import { lcg } from '../../fixtures/lcg';

/** Deterministic uniform [0, 1). */
const randScale = (n: number, r: () => number) => Float32Array.from({ length: n }, () => Math.exp(2 * r() - 1)); // [e⁻¹, e]
const randShift = (n: number, r: () => number) => Float32Array.from({ length: n }, () => r() - 0.5);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('transforms: fold input scales on stories260K', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let fp: Float32Array;
  const feeds = { input_ids: tokens(2, 24) };
  before(async () => {
    model = await loadModel(stories.model);
    fp = await runModel(model.serialize(), feeds, 'logits');
  });

  test('groups: wq/wk/wv → attention norm, w1/w3 → ffn norm, w2 → w3 (SwiGLU gate), wo → Mul, output → final norm', () => {
    const groups = scaleGroups(model);
    const by = new Map(groups.map((g) => [g.layers.slice().sort().join(','), g]));
    for (let i = 0; i < 5; i++) {
      const p = `layers.${i}.`;
      const qkv = by.get([`${p}wk`, `${p}wq`, `${p}wv`].join(','));
      assert.equal(qkv?.producer.kind, 'norm', `layer ${i} qkv`);
      if (qkv?.producer.kind === 'norm') assert.equal(qkv.producer.node.input[qkv.producer.scaleInput], `${p}attention_norm`);
      const ffn = by.get([`${p}w1`, `${p}w3`].join(','));
      assert.equal(ffn?.producer.kind, 'norm', `layer ${i} w1/w3`);
      if (ffn?.producer.kind === 'norm') assert.equal(ffn.producer.node.input[ffn.producer.scaleInput], `${p}ffn_norm`);
      const w2 = by.get(`${p}w2`)?.producer;
      assert.deepEqual(w2?.kind === 'linear' ? w2.layer : w2, `${p}w3`);
      assert.equal(by.get(`${p}wo`)?.producer.kind, 'none');
    }
    const out = by.get('output')?.producer;
    assert.equal(out?.kind === 'norm' ? out.node.input[out.scaleInput] : out?.kind, 'norm');
    assert.equal(groups.length, 5 * 4 + 1);
  });

  test('random positive scales folded into every group keep the logits (float tolerance)', async () => {
    const r = lcg(7);
    const groups = scaleGroups(model).map((g) => ({ layers: g.layers, scale: randScale(model.layer(g.layers[0]).shape[1], r) }));
    const res = foldInputScales(model, groups);
    assert.equal(res.groups.filter((g) => g.how === 'norm').length, 11);
    assert.equal(res.groups.filter((g) => g.how === 'linear').length, 5);
    assert.equal(res.groups.filter((g) => g.how === 'mul').length, 5);
    // Weights really changed: W' = W·diag(s) for a consumer, and w3 also carries w2's 1/s.
    const g0 = groups.find((g) => g.layers.includes('layers.0.wq'))!;
    const w = model.getWeight('layers.0.wq');
    const w2 = res.model.getWeight('layers.0.wq');
    for (const [o, i] of [
      [0, 0],
      [5, 17],
      [63, 63],
    ])
      assert.ok(Math.abs(w2.data[o * 64 + i] - w.data[o * 64 + i] * g0.scale[i]) < 1e-6);
    assert.equal(res.model.graph.node.length, model.graph.node.length + 5, 'only the 5 wo groups get a Mul');
    assert.deepEqual(
      res.model.layers.map((l) => l.name),
      model.layers.map((l) => l.name),
      'layer names stay stable',
    );
    const out = await runModel(res.model.serialize(), feeds, 'logits');
    const e = relErr(out, fp);
    assert.ok(e < 1e-5, `rel err ${e}`);
    assert.ok(maxAbsDiff(out, fp) < 1e-3, `max abs diff ${maxAbsDiff(out, fp)}`);
    // The source model is untouched.
    assert.deepEqual(model.getWeight('layers.0.wq').data, w.data);
  });

  test('scaling the consumer weights without the producer is detected (the check can fail)', async () => {
    const s = randScale(64, lcg(3));
    const st = new EditState(model);
    for (const name of ['layers.1.w1', 'layers.1.w3']) {
      const l = model.layer(name);
      const w = st.read(l.nodeRef, l.weightInput); // [in = 64, out = 172]
      for (let i = 0; i < 64; i++) for (let o = 0; o < 172; o++) w.data[i * 172 + o] *= s[i];
      st.write(l.nodeRef, l.weightInput, w, true);
    }
    const e = relErr(await runModel(st.result().serialize(), feeds, 'logits'), fp);
    assert.ok(e > 1e-2, `half a fold must not look equivalent (rel err ${e})`);
  });

  test('OS+ shift and scale (x̃ = (x − z)/s, bias += W·z) keep the logits', async () => {
    const r = lcg(11);
    const groups = scaleGroups(model).map((g) => {
      const n = model.layer(g.layers[0]).shape[1];
      return { layers: g.layers, scale: randScale(n, r), shift: randShift(n, r) };
    });
    const res = foldInputTransforms(model, groups);
    assert.ok(
      res.groups.every((g) => g.shiftAdd),
      'RMSNorm has no bias: every shift is an inserted Add',
    );
    const e = relErr(await runModel(res.model.serialize(), feeds, 'logits'), fp);
    assert.ok(e < 1e-5, `rel err ${e}`);
  });

  test('shift only on the attention inputs keeps the logits', async () => {
    const r = lcg(5);
    const groups = [0, 1, 2, 3, 4].map((i) => ({
      layers: [`layers.${i}.wq`, `layers.${i}.wk`, `layers.${i}.wv`],
      shift: randShift(64, r),
    }));
    const res = foldInputTransforms(model, groups);
    const e = relErr(await runModel(res.model.serialize(), feeds, 'logits'), fp);
    assert.ok(e < 1e-5, `rel err ${e}`);
  });

  test('a folded model exports through exportModel (8-bit QDQ, weights quantized after folding)', async () => {
    const r = lcg(19);
    const groups = scaleGroups(model).map((g) => ({ layers: g.layers, scale: randScale(model.layer(g.layers[0]).shape[1], r) }));
    const folded = foldInputScales(model, groups).model;
    const results = folded.layers
      .filter((l) => l.quantizable && !l.embedding)
      .map((l) => {
        const w = folded.getWeight(l.name);
        const { q, dequant } = rtn(w.data, w.rows, w.cols, 8, -1);
        return { layer: l.name, q, dequant };
      });
    const exported = exportModel(folded, results, { format: 'qdq' });
    assert.ok(
      exported.layers.every((l) => l.written === 'qdq'),
      JSON.stringify(exported.layers.filter((l) => l.written !== 'qdq')),
    );
    const e = relErr(await runModel(exported.bytes, feeds, 'logits'), fp);
    assert.ok(e < 0.05, `W8 per-channel after folding: rel err ${e}`);
  });

  test('errors name the layers: incomplete group, wrong length, non-positive scale', () => {
    assert.throws(
      () => foldInputScales(model, [{ layers: ['layers.0.wq'], scale: new Float32Array(64).fill(2) }]),
      /layers\.0\.wk.*layers\.0\.wq/,
    );
    assert.throws(
      () => foldInputScales(model, [{ layers: ['layers.0.w2'], scale: new Float32Array(64).fill(2) }]),
      /layers\.0\.w2: scale has 64 values, expected 172/,
    );
    const s = new Float32Array(172).fill(1);
    s[9] = 0;
    assert.throws(() => foldInputScales(model, [{ layers: ['layers.0.w2'], scale: s }]), /scale\[9\] = 0/);
    const two = new Float32Array(64).fill(2);
    assert.throws(
      () =>
        foldInputScales(model, [
          { layers: ['layers.0.w1', 'layers.0.w3'], scale: two },
          { layers: ['layers.0.w3', 'layers.0.w1'], scale: two },
        ]),
      /two groups transform the same input/,
    );
  });
});
