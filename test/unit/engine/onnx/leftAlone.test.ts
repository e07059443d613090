import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttributeProto, GraphProto, ModelProto } from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor, makeTensor } from '../../../../engine/onnx/tensor';
import { parseModel } from '../../../../engine/onnx/model';
import { leftAloneTensors } from '../../../../engine/onnx/leftAlone';
import { encode, node, randn, vi } from './tinyModels';

const graphAttr = (name: string, g: GraphProto): AttributeProto => ({
  name,
  type: 5,
  g,
  ints: [],
  floats: [],
  strings: [],
  tensors: [],
  graphs: [],
  unknown: [],
});

/** ids → Gather(emb 256×64) → MatMul(a 64×64) → MatMul(b 64×64) → If(cond){then: MatMul(sub.w 64×64), else: Identity} → y. */
function model(): ModelProto {
  const branch = (name: string, withWeight: boolean): GraphProto => ({
    name,
    node: withWeight ? [node('MatMul', ['h2', 'sub.w'], [`${name}_y`])] : [node('Identity', ['h2'], [`${name}_y`])],
    initializer: withWeight ? [makeFloatTensor('sub.w', [64, 64], randn(4096, 4))] : [],
    input: [],
    output: [vi(`${name}_y`, DT.FLOAT)],
    valueInfo: [],
    unknown: [],
  });
  const iff = node('If', ['cond'], ['y'], 'If_0');
  iff.attribute.push(graphAttr('then_branch', branch('then', true)), graphAttr('else_branch', branch('else', false)));
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 'lowbit-test',
    graph: {
      name: 'g',
      node: [node('Gather', ['emb', 'ids'], ['h0']), node('MatMul', ['h0', 'a.w'], ['h1']), node('MatMul', ['h1', 'b.w'], ['h2']), iff],
      initializer: [
        makeFloatTensor('emb', [256, 64], randn(256 * 64, 1)),
        makeFloatTensor('a.w', [64, 64], randn(4096, 2)),
        makeFloatTensor('b.w', [64, 64], randn(4096, 3)),
        makeTensor('cond', 9, [], new Uint8Array([1])),
      ],
      input: [vi('ids', DT.INT64, ['n'])],
      output: [vi('y', DT.FLOAT)],
      valueInfo: [],
      unknown: [],
    },
    unknown: [],
  };
}

test('left alone: op not supported, rule skip, subgraph layer not planned, written float; compressed layers and small tensors are not listed', () => {
  const m = parseModel(encode(model()), '/tmp/lowbit-left/model.onnx', '/tmp');
  const fileBytes = m.fileBytes;
  const all = leftAloneTensors(m.graph, m.layers, new Set(['a.w']), fileBytes, { skippedBy: new Map([['b.w', 2]]), minBytes: 4096 });
  const by = Object.fromEntries(all.map((t) => [t.name, t.reason]));
  assert.deepEqual(Object.keys(by).sort(), ['If_0/then_branch/sub.w', 'b.w', 'emb']);
  assert.match(by.emb, /embedding lookup \(Gather\)/);
  assert.equal(by['b.w'], 'rule 3 said skip');
  // The subgraph's MatMul weight is a layer named by its place; this plan did not compress it.
  assert.equal(by['If_0/then_branch/sub.w'], 'not in the plan');
  assert.equal(m.layer('If_0/then_branch/sub.w').subgraph, 'If_0/then_branch');
  assert.equal(all[0].name, 'emb'); // largest first
  assert.equal(all[0].bytes, 256 * 64 * 4);
  assert.ok(Math.abs(all[0].share - 65536 / fileBytes) < 1e-12 && all[0].share < 1);
  // A layer the exporter had to write as float weights says why; 64×64 fp32 is exactly the 16 KiB default threshold.
  const fake = leftAloneTensors(m.graph, m.layers, new Set(), fileBytes, {
    notes: new Map([['a.w', 'MatMulNBits needs a power-of-2 group size']]),
  });
  assert.deepEqual(
    fake.map((t) => t.name),
    ['emb', 'a.w', 'b.w', 'If_0/then_branch/sub.w'],
  );
  assert.deepEqual(
    leftAloneTensors(m.graph, m.layers, new Set(), fileBytes, { minBytes: 16385 }).map((t) => t.name),
    ['emb'],
  );
  assert.match(fake.find((t) => t.name === 'a.w')!.reason, /written as float weights: MatMulNBits needs/);
  assert.equal(fake.find((t) => t.name === 'b.w')!.reason, 'not in the plan');
  // inspect's view: every quantizable layer compressed.
  assert.deepEqual(
    m.summary().leftAlone!.map((t) => t.name),
    ['emb'],
  );
});
