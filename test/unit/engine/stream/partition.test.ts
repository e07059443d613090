/** The graph partition and block extraction on small hand-built graphs: chains, skips, shared shape metadata. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { parseModel } from '../../../../engine/onnx/model';
import { encodeModel, type ModelProto, type NodeProto } from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { blockModel, blockNodes } from '../../../../engine/stream/blockModel';
import { constantNodes, partitionGraph } from '../../../../engine/stream/partition';
import { node, randn, vi } from '../onnx/tinyModels';

function graph(nodes: NodeProto[], weights: string[], d = 4): ModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 't',
    unknown: [],
    graph: {
      name: 'g',
      node: nodes,
      initializer: weights.map((w, i) => makeFloatTensor(w, [d, d], randn(d * d, i + 1))),
      input: [vi('X', DT.FLOAT, ['b', d])],
      output: [vi('Y', DT.FLOAT, ['b', d])],
      valueInfo: [],
      unknown: [],
    },
  };
}
const layersOf = (p: ModelProto) => {
  const m = parseModel(encodeModel(p), 'g.onnx');
  return { m, layers: m.layers.filter((l) => l.quantizable).map((l) => ({ name: l.name, node: l.nodeRef, input: l.input })) };
};

test('a plain chain is cut after every layer; each block reads the previous activation', () => {
  const p = graph(
    [
      node('MatMul', ['X', 'W1'], ['a']),
      node('Relu', ['a'], ['b']),
      node('MatMul', ['b', 'W2'], ['c']),
      node('Relu', ['c'], ['d']),
      node('MatMul', ['d', 'W3'], ['Y']),
    ],
    ['W1', 'W2', 'W3'],
  );
  const { m, layers } = layersOf(p);
  const blocks = partitionGraph(m.graph, layers);
  assert.deepEqual(
    blocks.map((b) => b.layers),
    [['W1'], ['W2'], ['W3']],
  );
  assert.deepEqual(
    blocks.map((b) => b.inputs),
    [['X'], ['a'], ['c']],
  );
  assert.deepEqual(
    blocks.map((b) => b.carried),
    [['a'], ['c'], []],
  );
  // The last block needs only its layer input: the Y MatMul itself is not run.
  assert.deepEqual(blocks[2].outputs, ['d']);
});

test('a skip connection is never cut: both branches stay in one block, cuts fall on the residual', () => {
  // r1 = X + W2·relu(W1·X); Y = r1 + W4·relu(W3·r1)
  const p = graph(
    [
      node('MatMul', ['X', 'W1'], ['a']),
      node('Relu', ['a'], ['b']),
      node('MatMul', ['b', 'W2'], ['c']),
      node('Add', ['X', 'c'], ['r1']),
      node('MatMul', ['r1', 'W3'], ['e']),
      node('Relu', ['e'], ['f']),
      node('MatMul', ['f', 'W4'], ['g']),
      node('Add', ['r1', 'g'], ['Y']),
    ],
    ['W1', 'W2', 'W3', 'W4'],
  );
  const { m, layers } = layersOf(p);
  const blocks = partitionGraph(m.graph, layers);
  assert.deepEqual(
    blocks.map((b) => b.layers),
    [
      ['W1', 'W2'],
      ['W3', 'W4'],
    ],
  );
  assert.deepEqual(blocks[1].inputs, ['r1']);
  assert.deepEqual(blocks[0].carried, ['r1']);
});

test('shape metadata shared by every block is carried but does not decide the cuts; constants are copied', async () => {
  // s = Shape(X) feeds a Reshape in both halves; k is a Constant read by both.
  const shapeNodes: NodeProto[] = [
    node('Shape', ['X'], ['s']),
    {
      ...node('Constant', [], ['k']),
      attribute: [
        {
          name: 'value',
          type: 4,
          t: makeFloatTensor('kv', [1], Float32Array.of(2)),
          floats: [],
          ints: [],
          strings: [],
          tensors: [],
          graphs: [],
          unknown: [],
        },
      ],
    },
  ];
  const p = graph(
    [
      ...shapeNodes,
      node('MatMul', ['X', 'W1'], ['a']),
      node('Mul', ['a', 'k'], ['a2']),
      node('Reshape', ['a2', 's'], ['a3']),
      node('Add', ['X', 'a3'], ['r1']),
      node('MatMul', ['r1', 'W2'], ['c']),
      node('Mul', ['c', 'k'], ['c2']),
      node('Reshape', ['c2', 's'], ['c3']),
      node('Add', ['r1', 'c3'], ['r2']),
      node('MatMul', ['r2', 'W3'], ['Y']),
    ],
    ['W1', 'W2', 'W3'],
  );
  const { m, layers } = layersOf(p);
  assert.deepEqual([...constantNodes(m.graph).nodes], [1]);
  const blocks = partitionGraph(m.graph, layers);
  assert.deepEqual(
    blocks.map((b) => b.layers),
    [['W1'], ['W2'], ['W3']],
  );
  assert.deepEqual(blocks[1].inputs.sort(), ['r1', 's']);
  assert.deepEqual(blocks[2].inputs, ['r2']);
  assert.ok(blocks[0].carried.includes('r1') && blocks[0].carried.includes('s'));
  // The second block runs on its own: its Constant is copied in, `s` and `r1` are fed.
  const sub = blockModel(
    p,
    { index: 1, inputs: ['r1', 's'], outputs: ['r2'] },
    new Map([
      ['r1', DT.FLOAT],
      ['s', DT.INT64],
    ]),
  );
  assert.deepEqual(
    blockNodes(p.graph!, ['r1', 's'], ['r2'], 't').map((n) => n.output[0]),
    ['k', 'c', 'c2', 'c3', 'r2'],
  );
  const session = await ort.InferenceSession.create(encodeModel(sub));
  const r1 = new ort.Tensor('float32', randn(8, 9), [2, 4]);
  const y = await session.run({ r1, s: new ort.Tensor('int64', BigInt64Array.of(2n, 4n), [2]) });
  assert.deepEqual(y.r2.dims, [2, 4]);
  await session.release();
});

test('a tensor nothing produces is a clear error', () => {
  const p = graph([node('MatMul', ['X', 'W1'], ['a']), node('MatMul', ['a', 'W2'], ['Y'])], ['W1', 'W2']);
  assert.throws(
    () => blockNodes(p.graph!, [], ['Y', 'nowhere'], 'block 3'),
    /block 3: tensor nowhere is needed but neither an input of the block nor produced by any node/,
  );
});
