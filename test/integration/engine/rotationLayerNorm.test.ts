/**
 * Rotation of LayerNorm models (QuaRot/SliceGPT: centre the stream, fold γ and β, LayerNorm → RMSNorm)
 * on GPT-2-style pre-LN decoders in the three forms exporters write, run in onnxruntime-node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, type OnnxModel } from '../../../engine/onnx';
import { findRotationPlan, rotateModel, RotationUnsupported } from '../../../engine/transforms/rotation';
import { randomizedHadamard } from '../../../engine/transforms/rotationHadamard';
import { buildLayerNormDecoder, type LayerNormForm } from '../../fixtures/llm/layerNormDecoder';
import { maxAbsDiff } from '../../fixtures/llm';

const T = 16;
function feeds(): Record<string, ort.Tensor> {
  const ids = BigInt64Array.from({ length: 2 * T }, (_, i) => BigInt((i * 37 + 5) % 512));
  const pos = BigInt64Array.from({ length: 2 * T }, (_, i) => BigInt(i % T));
  return {
    input_ids: new ort.Tensor('int64', ids, [2, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(2 * T).fill(1n), [2, T]),
    position_ids: new ort.Tensor('int64', pos, [2, T]),
  };
}
async function logits(model: string | Uint8Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model as string, { intraOpNumThreads: 1 });
  try {
    return (await s.run(feeds())).logits.data as Float32Array;
  } finally {
    await s.release();
  }
}

const FUSED: Record<LayerNormForm, string[]> = {
  layernorm: ['LayerNormalization'],
  decomposed: ['Sub'],
  skip: ['LayerNormalization', 'SkipLayerNormalization'],
};

describe('rotation: LayerNorm decoders (GPT-2 style, three export forms)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-rotation-ln-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const norm of ['layernorm', 'decomposed', 'skip'] as const)
    for (const tied of [true, false])
      test(`${norm}, ${tied ? 'tied' : 'own'} head: logits unchanged to 1e-4 (offline and online down); LayerNorms become RMSNorms`, async () => {
        const f = buildLayerNormDecoder(dir, { norm, tied, fileName: `${norm}-${tied}.onnx` });
        const m = await loadModel(f.path);
        const before = m.serialize();
        const fp = await logits(f.path);
        const plan = findRotationPlan(m);
        assert.equal(plan.layerNorms.length, 5);
        assert.deepEqual(plan.layerNorms.map((n) => n.name).sort(), f.norms.slice().sort());
        assert.equal(plan.tables.length, 1, 'the learned position table');
        assert.equal(plan.streamBiases.length, norm === 'skip' ? 4 : 0);
        for (const online of ['none', 'down'] as const) {
          const { model: rot, record } = rotateModel(m, { seed: 5, online });
          const diff = maxAbsDiff(await logits(rot.serialize()), fp);
          assert.ok(diff < 1e-4, `${online}: max |Δlogit| = ${diff}`);
          const ln = record.layer_norm!;
          assert.equal(ln.rewritten.length, 5);
          assert.deepEqual(record.tables, ['transformer.wpe.weight']);
          // Writers: 2 per block, plus embedding and positions (and the 4 Skip biases).
          assert.equal(ln.centred.length, 2 * f.nLayers + 2 + (norm === 'skip' ? 4 : 0));
          // β·W became a new bias on the head only (the other readers had one).
          assert.equal(ln.new_biases.length, 1);
          assert.equal(record.untied !== undefined, tied);
          const ops = rot.graph.node.map((n) => n.opType);
          for (const op of FUSED[norm]) assert.ok(!ops.includes(op), `${op} left in ${ops.join(',')}`);
          if (norm === 'decomposed') assert.equal(ops.filter((o) => o === 'ReduceMean').length, 5, 'only the variance means are left');
          else assert.equal(ops.filter((o) => o.endsWith('SimplifiedLayerNormalization')).length, 5);
          assert.equal(record.online?.length ?? 0, online === 'down' ? f.nLayers : 0);
        }
        assert.deepEqual(m.serialize(), before, 'the source model is untouched');
      });

  test('the stream is centred then rotated: E′·Rᵀ = E·C (rows mean-free), also the position table; ε kept on the RMSNorm', async () => {
    const f = buildLayerNormDecoder(dir, { norm: 'layernorm', fileName: 'centre.onnx' });
    const m = await loadModel(f.path);
    const seed = 9;
    const { model: rot } = rotateModel(m, { seed });
    const r = randomizedHadamard(64, seed);
    for (const name of ['transformer.wte.weight', 'transformer.wpe.weight']) {
      const e = m.consts.value(m.consts.resolve(name)!).data;
      const e1 = rot.consts.value(rot.consts.resolve(name)!).data;
      let worst = 0,
        moved = 0;
      for (let row = 0; row < e.length / 64; row++) {
        // x·R·Rᵀ: apply Rᵀ by rotating with the transpose (R orthogonal: Rᵀ = R⁻¹, solve by the dense matrix).
        const dense = r.dense();
        let mean = 0;
        for (let j = 0; j < 64; j++) mean += e[row * 64 + j] / 64;
        for (let i = 0; i < 64; i++) {
          let back = 0;
          for (let j = 0; j < 64; j++) back += e1[row * 64 + j] * dense[i * 64 + j];
          worst = Math.max(worst, Math.abs(back - (e[row * 64 + i] - mean)));
          moved = Math.max(moved, Math.abs(mean));
        }
      }
      assert.ok(worst < 1e-5, `${name}: |E′Rᵀ − E·C| = ${worst}`);
      assert.ok(moved > 0.01, `${name}: the fixture's rows have a mean to remove`);
    }
    const sln = rot.graph.node.filter((n) => n.opType === 'SimplifiedLayerNormalization');
    assert.equal(sln.length, 5);
    for (const n of sln) {
      const eps = n.attribute.find((a) => a.name === 'epsilon')?.f;
      assert.ok(eps !== undefined && Math.abs(eps - 1e-5) < 1e-12, `ε ${eps}`);
      assert.ok(
        rot.consts.value(rot.consts.resolve(n.input[1])!).data.every((x) => x === 1),
        'γ = 1',
      );
    }
  });

  test('without centring, an RMSNorm in place of the LayerNorm changes the logits (the rewrite needs it; the test can fail)', async () => {
    const f = buildLayerNormDecoder(dir, { norm: 'layernorm', fileName: 'nocentre.onnx' });
    const m = await loadModel(f.path);
    const fp = await logits(f.path);
    // The same graph with each LayerNormalization replaced by SimplifiedLayerNormalization (γ kept, β added after): no centring.
    const g = m.proto.graph!;
    for (const n of g.node.filter((x) => x.opType === 'LayerNormalization')) {
      const out = n.output[0];
      n.opType = 'SimplifiedLayerNormalization';
      n.output = [`${out}_rms`];
      const beta = n.input[2];
      n.input = n.input.slice(0, 2);
      g.node.splice(g.node.indexOf(n) + 1, 0, {
        opType: 'Add',
        name: `${n.name}_beta`,
        input: [`${out}_rms`, beta],
        output: [out],
        attribute: [],
        unknown: [],
      });
    }
    const diff = maxAbsDiff(await logits(m.serialize()), fp);
    assert.ok(diff > 1e-2, `max |Δlogit| = ${diff}`);
  });

  test('a LayerNorm read by something other than a linear layer is refused, naming the reader', async () => {
    const f = buildLayerNormDecoder(dir, { norm: 'layernorm', fileName: 'ln-relu.onnx' });
    const m: OnnxModel = await loadModel(f.path);
    const g = m.proto.graph!;
    const ln = g.node.find((n) => n.name === '/transformer/h.1/ln_2/LayerNormalization')!;
    const fc = g.node.find((n) => n.name === '/transformer/h.1/mlp/c_fc/MatMul')!;
    g.node.splice(g.node.indexOf(fc), 0, {
      opType: 'Relu',
      name: '/odd/Relu',
      input: [ln.output[0]],
      output: ['odd_relu'],
      attribute: [],
      unknown: [],
    });
    fc.input[0] = 'odd_relu';
    assert.throws(
      () => findRotationPlan(m),
      (e: Error) =>
        e instanceof RotationUnsupported &&
        e.message ===
          `${f.path}: rotation: Relu '/odd/Relu': reads the normalized stream '${ln.output[0]}' of LayerNormalization '${ln.name}'; only linear layers (MatMul/Gemm with a constant weight) can take its γ, β and rotation`,
    );
  });

  test('a writer whose output is also read elsewhere (here a graph output) is refused, naming the writer: rotating would change it', async () => {
    const f = buildLayerNormDecoder(dir, { norm: 'layernorm', fileName: 'writer-out.onnx' });
    const m = await loadModel(f.path);
    const g = m.proto.graph!;
    const add = g.node.find((n) => n.name === '/transformer/h.0/attn/out_proj/Add')!;
    g.output.push({ ...g.output[0], name: add.output[0] });
    assert.throws(
      () => findRotationPlan(m),
      (e: Error) =>
        e instanceof RotationUnsupported &&
        e.message ===
          `${f.path}: rotation: MatMul '/transformer/h.0/attn/out_proj/MatMul': the output '${add.output[0]}' of writer 'transformer.h.0.attn.out_proj' is also a graph output; rotating the stream would change what it sees`,
    );
  });

  test('a LayerNormalization over another axis is refused, naming it', async () => {
    const f = buildLayerNormDecoder(dir, { norm: 'layernorm', fileName: 'ln-axis.onnx' });
    const m = await loadModel(f.path);
    const ln = m.proto.graph!.node.find((n) => n.name === '/transformer/ln_f/LayerNormalization')!;
    ln.attribute.find((a) => a.name === 'axis')!.i = 1;
    assert.throws(
      () => findRotationPlan(m),
      (e: Error) =>
        e instanceof RotationUnsupported &&
        /LayerNormalization '\/transformer\/ln_f\/LayerNormalization': normalizes over axis 1/.test(e.message),
    );
  });
});
