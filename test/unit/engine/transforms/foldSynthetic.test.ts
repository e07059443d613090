/**
 * Folding on a small hand-built graph covering the producers stories260K lacks: LayerNormalization
 * with bias, a decomposed LayerNorm (Mul γ → Add β), Gemm transB=1 with bias, Gemm transB=0 as the
 * previous linear, and a Reshape (no producer → Mul fallback). Checked in onnxruntime-node.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { makeNode, attr } from '../../../../engine/export/graphEdit';
import { parseModel, type OnnxModel } from '../../../../engine/onnx';
import { encodeModel, tensorTypeBytes, type ModelProto, type ValueInfoProto } from '../../../../engine/onnx/onnxProto';
import { makeFloatTensor, makeInt64Tensor } from '../../../../engine/onnx/tensor';
import { foldInputTransforms, scaleGroups } from '../../../../engine/transforms';
import { lcg } from '../../../fixtures/lcg';

const r = lcg(42);
const randn = (n: number) => Float32Array.from({ length: n }, () => 2 * r() - 1);
const vi = (name: string, dims: number[]): ValueInfoProto => ({
  name,
  typeRaw: tensorTypeBytes(1, dims),
  type: { elemType: 1, dims },
  unknown: [],
});

function buildModel(): OnnxModel {
  const init = [
    makeFloatTensor('g1', [8], randn(8)),
    makeFloatTensor('b1', [8], randn(8)),
    makeFloatTensor('Wa', [8, 6], randn(48)),
    makeFloatTensor('Wb', [8, 6], randn(48)),
    makeFloatTensor('g2', [6], randn(6)),
    makeFloatTensor('b2', [6], randn(6)),
    makeFloatTensor('Wc', [6, 4], randn(24)),
    makeInt64Tensor('shape2d', [10, 4]),
    makeFloatTensor('Wd', [3, 4], randn(12)),
    makeFloatTensor('bd', [3], randn(3)),
    makeFloatTensor('We', [3, 5], randn(15)),
    makeFloatTensor('Wf', [5, 2], randn(10)),
  ];
  const node = [
    makeNode('LayerNormalization', ['x', 'g1', 'b1'], ['n1'], 'ln', [attr.int('axis', -1)]),
    makeNode('MatMul', ['n1', 'Wa'], ['ya'], 'A'),
    makeNode('MatMul', ['n1', 'Wb'], ['yb'], 'B'),
    makeNode('Add', ['ya', 'yb'], ['sum'], 'residual'),
    makeNode('Mul', ['sum', 'g2'], ['m2'], 'ln2_gamma'),
    makeNode('Add', ['m2', 'b2'], ['n2'], 'ln2_beta'),
    makeNode('MatMul', ['n2', 'Wc'], ['yc'], 'C'),
    makeNode('Reshape', ['yc', 'shape2d'], ['flat'], 'flatten'),
    makeNode('Gemm', ['flat', 'Wd', 'bd'], ['yd'], 'D', [attr.int('transB', 1)]),
    makeNode('Gemm', ['yd', 'We'], ['ye'], 'E'),
    makeNode('MatMul', ['ye', 'Wf'], ['y'], 'F'),
  ];
  const proto: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    unknown: [],
    graph: {
      name: 'synthetic',
      node,
      initializer: init,
      input: [vi('x', [2, 5, 8])],
      output: [vi('y', [10, 2])],
      valueInfo: [],
      unknown: [],
    },
  };
  return parseModel(encodeModel(proto), 'synthetic.onnx', '/tmp');
}

async function run(m: OnnxModel, x: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(m.serialize());
  return (await s.run({ x: new ort.Tensor('float32', x, [2, 5, 8]) })).y.data as Float32Array;
}

describe('transforms: fold on a synthetic graph', () => {
  const model = buildModel();
  const x = randn(80).map((v) => 3 * v);

  test('producers: LayerNormalization, decomposed LN, Gemm (transB=0) linear, Mul fallback after Reshape / biased Gemm', () => {
    const kinds = Object.fromEntries(
      scaleGroups(model).map((g) => [g.layers.join('+'), g.producer.kind === 'linear' ? `linear:${g.producer.layer}` : g.producer.kind]),
    );
    assert.deepEqual(kinds, { 'Wa+Wb': 'norm', Wc: 'norm', Wd: 'none', We: 'none', Wf: 'linear:We' });
  });

  test('scales and shifts on every group give the same output (biases absorb shifts where present)', async () => {
    const fp = await run(model, x);
    const groups = scaleGroups(model).map((g) => {
      const n = model.layer(g.layers[0]).shape[1];
      return { layers: g.layers, scale: Float32Array.from({ length: n }, () => 0.3 + 3 * r()), shift: randn(n) };
    });
    const res = foldInputTransforms(model, groups);
    const how = Object.fromEntries(res.groups.map((g) => [g.layers.join('+'), `${g.how}${g.shiftAdd ? '+add' : ''}`]));
    assert.deepEqual(how, { 'Wa+Wb': 'norm', Wc: 'norm', Wd: 'mul+add', We: 'mul+add', Wf: 'linear+add' });
    const out = await run(res.model, x);
    for (let i = 0; i < fp.length; i++) assert.ok(Math.abs(out[i] - fp[i]) < 1e-4 * (1 + Math.abs(fp[i])), `y[${i}] ${out[i]} vs ${fp[i]}`);
    // Different scales really were applied (the weights changed).
    assert.notDeepEqual(res.model.getWeight('Wd').data, model.getWeight('Wd').data);
  });
});
