/**
 * When AWQ / SmoothQuant / OS+ can stream (engine/stream/foldStreaming.ts), on small hand-built graphs:
 * a group split over two blocks, and a norm that runs in an earlier block, are obstacles that name the
 * layers; the memory plan then keeps the whole-model path (auto) or refuses (always).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseModel } from '../../../../engine/onnx/model';
import { encodeModel, type ModelProto, type NodeProto } from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { foldStreamingObstacle } from '../../../../engine/stream/foldStreaming';
import { planMemory } from '../../../../engine/stream/memoryPlan';
import { partitionGraph } from '../../../../engine/stream/partition';
import type { LayerPlan, Method } from '../../../../protocol/plan';
import { node, randn, vi } from '../onnx/tinyModels';

const D = 4;
function model(nodes: NodeProto[], weights: string[], vectors: string[] = []) {
  const p: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 't',
    unknown: [],
    graph: {
      name: 'g',
      node: nodes,
      initializer: [
        ...weights.map((w, i) => makeFloatTensor(w, [D, D], randn(D * D, i + 1))),
        ...vectors.map((v, i) => makeFloatTensor(v, [D], randn(D, 50 + i))),
      ],
      input: [vi('X', DT.FLOAT, ['b', D])],
      output: [vi('Y', DT.FLOAT, ['b', D])],
      valueInfo: [],
      unknown: [],
    },
  };
  const m = parseModel(encodeModel(p), 'g.onnx');
  const layers = m.layers.filter((l) => l.quantizable).map((l) => ({ name: l.name, node: l.nodeRef, input: l.input }));
  return { m, layers, blocks: partitionGraph(m.graph, layers) };
}
const plans = (names: string[], method: Method): LayerPlan[] =>
  names.map((name) => ({ name, method, bits: 4, groupSize: 0, symmetric: false, settings: {}, rules: [0] }));

test('a chain with norms inside its blocks streams; GPTQ-only plans are never obstacles', () => {
  // Y = W3·(γ2 ⊙ relu(W2·(γ1 ⊙ relu(W1·X)))): each γ lies in the block of the layer it feeds.
  const { m, blocks } = model(
    [
      node('MatMul', ['X', 'W1'], ['a']),
      node('Relu', ['a'], ['b']),
      node('Mul', ['b', 'g1'], ['n1']),
      node('MatMul', ['n1', 'W2'], ['c']),
      node('Relu', ['c'], ['d']),
      node('Mul', ['d', 'g2'], ['n2']),
      node('MatMul', ['n2', 'W3'], ['Y']),
    ],
    ['W1', 'W2', 'W3'],
    ['g1', 'g2'],
  );
  assert.equal(blocks.length, 3);
  assert.equal(foldStreamingObstacle(m, blocks, plans(['W1', 'W2', 'W3'], 'awq')), undefined);
  assert.equal(foldStreamingObstacle(m, blocks, plans(['W1', 'W2', 'W3'], 'gptq')), undefined);
  // The same norm seen from a block that starts after it: its cached input would miss the fold.
  const late = { ...blocks[1], inputs: ['n1'] };
  assert.equal(
    foldStreamingObstacle(m, [blocks[0], late, blocks[2]], plans(['W2'], 'smoothquant')),
    "the input scale of layers W2 folds into Mul 'n1', which runs in an earlier block",
  );
});

test('a group split over two blocks is an obstacle: auto keeps the whole-model path, always refuses naming the layers', () => {
  // A and B both read X; Y = relu(A·X) + B·X. The cut after A splits the group {A, B}.
  const { m, blocks } = model(
    [node('MatMul', ['X', 'A'], ['a']), node('Relu', ['a'], ['r']), node('MatMul', ['X', 'B'], ['b']), node('Add', ['r', 'b'], ['Y'])],
    ['A', 'B'],
  );
  assert.deepEqual(
    blocks.map((b) => b.layers),
    [['A'], ['B']],
  );
  const awq = plans(['A', 'B'], 'awq');
  assert.equal(foldStreamingObstacle(m, blocks, awq), "layers A, B share the input 'X' but are not in one block");
  assert.equal(foldStreamingObstacle(m, blocks, plans(['A', 'B'], 'gptq')), undefined);
  const calibrated = ['A', 'B'].map((name) => ({ name, input: 'X', cols: D }));
  const memory = (streaming: 'auto' | 'always', layers: LayerPlan[]) =>
    planMemory({
      model: m,
      plan: { layers, modelPath: 'g.onnx' },
      calibrated,
      tokensPerBatch: 8,
      budgetBytes: 1e12,
      streaming,
      processBytes: 1e6,
      sequential: true,
    });
  assert.equal(memory('auto', plans(['A', 'B'], 'gptq')).mode, 'streamed');
  assert.equal(memory('auto', awq).mode, 'whole');
  assert.throws(
    () => memory('always', awq),
    /g\.onnx: layer A uses awq, which does not stream here \(layers A, B share the input 'X' but are not in one block\); set memory\.streaming: never/,
  );
});
