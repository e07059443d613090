import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { exportModel } from '../../../../engine/export/exportModel';
import { parseModel } from '../../../../engine/onnx/model';
import type { ModelProto } from '../../../../engine/onnx/onnxProto';
import { DT, floatToHalf, halfToFloat, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { relErr, rtn } from '../../../integration/engine/exportFixtures';
import { encode, node, randn, vi } from './tinyModels';

/** X[b,4] → Gemm(transB, bias) → [b,3] → MatMul(Cast(fp16 W2)) → [b,5] → MatMul(Transpose(W3)) → [b,6]. */
function chainModel(): ModelProto {
  const gemm = node('Gemm', ['X', 'Wg', 'bg'], ['G']);
  gemm.attribute.push({ name: 'transB', type: 2, i: 1, floats: [], ints: [], strings: [], tensors: [], graphs: [], unknown: [] });
  const cast = node('Cast', ['W2'], ['W2f']);
  cast.attribute.push({ name: 'to', type: 2, i: DT.FLOAT, floats: [], ints: [], strings: [], tensors: [], graphs: [], unknown: [] });
  const tr = node('Transpose', ['W3'], ['W3t']);
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    graph: {
      name: 'chain',
      node: [gemm, cast, node('MatMul', ['G', 'W2f'], ['M']), tr, node('MatMul', ['M', 'W3t'], ['Y'])],
      initializer: [
        makeFloatTensor('Wg', [3, 4], randn(12, 1)),
        makeFloatTensor('bg', [3], randn(3, 2)),
        makeFloatTensor('W2', [3, 5], randn(15, 3), DT.FLOAT16),
        makeFloatTensor('W3', [6, 5], randn(30, 4)),
      ],
      input: [vi('X', DT.FLOAT, ['b', 4])],
      output: [vi('Y', DT.FLOAT, ['b', 6])],
      valueInfo: [],
      unknown: [],
    },
    unknown: [],
  };
}

async function run(bytes: Uint8Array): Promise<Float32Array> {
  const sess = await ort.InferenceSession.create(bytes, { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } });
  const r = await sess.run({ X: new ort.Tensor('float32', randn(8, 9), [2, 4]) });
  return r.Y.data as Float32Array;
}

describe('layer discovery through Gemm, Cast and Transpose', () => {
  test('finds Gemm (transB), fp16-behind-Cast and Transpose-of-constant weights', () => {
    const m = parseModel(encode(chainModel()), 'chain.onnx');
    const s = m.summary();
    assert.deepEqual(
      s.layers.map((l) => [l.name, l.op, l.shape, l.dtype, l.quantizable]),
      [
        ['Wg', 'Gemm', [3, 4], 'float32', true],
        ['W2', 'MatMul', [5, 3], 'float16', true],
        ['W3', 'MatMul', [6, 5], 'float32', true],
      ],
    );
    assert.equal(m.layerInput('W2'), 'G');
    // W = (W3ᵀ)ᵀ = W3 as stored; Gemm with transB stores W directly; fp16 is widened exactly.
    assert.deepEqual(m.getWeight('W3').data, randn(30, 4));
    assert.deepEqual(m.getWeight('Wg').data, randn(12, 1));
    const w2 = m.getWeight('W2');
    const stored = Float32Array.from(randn(15, 3), (v) => halfToFloat(floatToHalf(v)));
    assert.equal(w2.data[1 * 3 + 2], stored[2 * 5 + 1]);
  });

  test('exports run in onnxruntime: identity fake-quant is exact, QDQ and MatMulNBits match fake-quant', async () => {
    const m = parseModel(encode(chainModel()), 'chain.onnx');
    const ref = await run(encode(chainModel()));
    const same = exportModel(
      m,
      m.layers.map((l) => ({ layer: l.name, dequant: m.getWeight(l.name).data })),
      { format: 'fake' },
    );
    assert.ok(relErr(await run(same.bytes), ref) < 1e-6);
    const back = parseModel(same.bytes, 'x');
    assert.deepEqual(
      back.graph.node.map((n) => n.opType),
      ['Gemm', 'MatMul', 'MatMul'],
      'Cast/Transpose of replaced weights are removed',
    );
    const results = m.layers.map((l) => {
      const w = m.getWeight(l.name);
      return { layer: l.name, ...rtn(w.data, w.rows, w.cols, 8, -1) };
    });
    const fake = await run(exportModel(m, results, { format: 'fake' }).bytes);
    assert.ok(relErr(fake, ref) > 1e-6);
    const qdq = exportModel(m, results, { format: 'qdq' });
    assert.deepEqual(
      qdq.layers.map((l) => l.written),
      ['qdq', 'qdq', 'qdq'],
    );
    assert.ok(relErr(await run(qdq.bytes), fake) < 1e-5);
    const nbits = exportModel(m, results, { format: 'matmulnbits' });
    assert.deepEqual(
      nbits.layers.map((l) => l.written),
      ['matmulnbits', 'matmulnbits', 'matmulnbits'],
    );
    assert.deepEqual(
      parseModel(nbits.bytes, 'n').graph.node.map((n) => n.opType),
      ['MatMulNBits', 'Add', 'MatMulNBits', 'MatMulNBits'],
    );
    assert.ok(relErr(await run(nbits.bytes), fake) < 1e-5);
  });
});
