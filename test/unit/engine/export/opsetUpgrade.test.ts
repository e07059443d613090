/**
 * Opset upgrade for QDQ export from opset 9 and 10: every rewritten op (Slice, TopK, Upsample,
 * Resize-10, Pad, Clip, Scatter, Dropout, Softmax family, Split, Squeeze/Unsqueeze, Reduce*,
 * BatchNormalization) is checked in onnxruntime-node against the original model, then the whole
 * QDQ export of an opset-9 model against its fake-quant export. Refusals name the node and op.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { exportModel } from '../../../../engine/export/exportModel';
import { GraphEditor, attr, makeNode } from '../../../../engine/export/graphEdit';
import { currentOpset, opsetUpgradeTable, upgradeOpset } from '../../../../engine/export/opsetUpgrade';
import { ExportUnsupported } from '../../../../engine/export/pack';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, parseModel } from '../../../../engine/onnx';
import {
  encodeModel,
  tensorTypeBytes,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../../../engine/onnx/onnxProto';
import { makeFloatTensor, makeInt64Tensor } from '../../../../engine/onnx/tensor';
import { relErr, rtn, runModel } from '../../../integration/engine/exportFixtures';
import { ocrDir } from '../onnx/tinyModels';

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}
const r = rng(7);
const randn = (n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * (2 * r() - 1));

const blank = { floats: [], ints: [], strings: [], tensors: [], graphs: [], unknown: [] };
const a = {
  int: attr.int,
  ints: (name: string, ints: number[]): AttributeProto => ({ ...blank, name, type: 7, ints }),
  float: (name: string, f: number): AttributeProto => ({ ...blank, name, type: 1, f }),
  str: (name: string, v: string): AttributeProto => ({ ...blank, name, type: 3, s: new TextEncoder().encode(v) }),
  graph: (name: string, g: GraphProto): AttributeProto => ({ ...blank, name, type: 5, g }),
};
const vi = (name: string, dims?: number[], elem = 1): ValueInfoProto => ({
  name,
  typeRaw: tensorTypeBytes(elem, dims),
  type: { elemType: elem, dims },
  unknown: [],
});

interface Spec {
  nodes: NodeProto[];
  inits: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
}
function model(opset: number, s: Spec, irVersion = 4): ModelProto {
  return {
    irVersion,
    opsetImport: [{ domain: '', version: opset, unknown: [] }],
    unknown: [],
    graph: {
      name: 'g',
      node: s.nodes,
      initializer: s.inits,
      input: s.inputs,
      output: s.outputs,
      valueInfo: s.valueInfo ?? [],
      unknown: [],
    },
  };
}

function upgraded(m: ModelProto, to: number): ModelProto {
  const ed = new GraphEditor(m);
  upgradeOpset(ed, to);
  assert.equal(currentOpset(ed), to);
  return ed.model;
}

async function runAll(m: ModelProto, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(encodeModel(m));
  return s.run(feeds);
}

async function assertSame(orig: ModelProto, up: ModelProto, feeds: Record<string, ort.Tensor>): Promise<void> {
  const want = await runAll(orig, feeds);
  const got = await runAll(up, feeds);
  for (const o of orig.graph!.output) {
    const w = want[o.name],
      g = got[o.name];
    assert.deepEqual(g.dims, w.dims, `${o.name}: dims`);
    const wd = Array.from(w.data as ArrayLike<number | bigint>, Number);
    const gd = Array.from(g.data as ArrayLike<number | bigint>, Number);
    for (let i = 0; i < wd.length; i++)
      assert.ok(Math.abs(gd[i] - wd[i]) <= 1e-6 * (1 + Math.abs(wd[i])), `${o.name}[${i}]: ${gd[i]} vs ${wd[i]}`);
  }
}

const ops = (m: ModelProto) => m.graph!.node.map((n) => n.opType);
const X = [2, 3, 8, 8];

/** Opset 9: one node (or a few) per rewritten op, reading x [2,3,8,8]. */
function opset9Spec(): Spec {
  const inits = [
    makeFloatTensor('up_scales', [4], Float32Array.from([1, 1, 2, 2])),
    makeInt64Tensor('shape3', [2, 3, 64]),
    makeInt64Tensor('shape2', [6, 64]),
    makeFloatTensor(
      'bn_s',
      [3],
      randn(3).map((v) => 1 + 0.5 * v),
    ),
    makeFloatTensor('bn_b', [3], randn(3)),
    makeFloatTensor('bn_m', [3], randn(3)),
    makeFloatTensor(
      'bn_v',
      [3],
      randn(3).map((v) => 1 + 0.5 * v),
    ),
    { ...makeInt64Tensor('sc_idx', [1, 0, 2, 1, 2, 0]), dims: [2, 3] },
    makeFloatTensor('sc_upd', [2, 3], randn(6)),
    makeFloatTensor('sc_data', [2, 3], randn(6)),
  ];
  const nodes = [
    makeNode('Upsample', ['x', 'up_scales'], ['up_nearest'], 'up_n', [a.str('mode', 'nearest')]),
    makeNode('Upsample', ['x', 'up_scales'], ['up_linear'], 'up_l', [a.str('mode', 'linear')]),
    makeNode('Slice', ['up_linear'], ['sliced'], 'slice', [a.ints('starts', [1, -13]), a.ints('ends', [100, 15]), a.ints('axes', [2, -1])]),
    makeNode('Slice', ['x'], ['sliced_noaxes'], 'slice2', [a.ints('starts', [0, 1]), a.ints('ends', [1, 3])]),
    makeNode('Pad', ['x'], ['padded'], 'pad', [a.ints('pads', [0, 0, 1, 2, 0, 1, 0, 1]), a.float('value', 0.5)]),
    makeNode('Pad', ['x'], ['padded_reflect'], 'pad_r', [a.ints('pads', [0, 0, 2, 1, 0, 0, 1, 2]), a.str('mode', 'reflect')]),
    makeNode('Clip', ['x'], ['clipped'], 'clip', [a.float('min', -0.3), a.float('max', 0.4)]),
    makeNode('Clip', ['x'], ['clipped_lo'], 'clip_lo', [a.float('min', 0.1)]),
    makeNode('Dropout', ['x'], ['dropped'], 'dropout', [a.float('ratio', 0.3)]),
    makeNode('Reshape', ['x', 'shape3'], ['x3'], 'to3d'),
    makeNode('Softmax', ['x3'], ['softmax_ax1'], 'softmax', [a.int('axis', 1)]),
    makeNode('Hardmax', ['x3'], ['hardmax_ax0'], 'hardmax', [a.int('axis', 0)]),
    makeNode('Reshape', ['x', 'shape2'], ['x2'], 'to2d'),
    makeNode('LogSoftmax', ['x2'], ['logsoftmax_default'], 'logsoftmax'),
    makeNode('Split', ['x'], ['split_a', 'split_b'], 'split', [a.int('axis', 1), a.ints('split', [1, 2])]),
    makeNode('Split', ['x'], ['half_a', 'half_b'], 'split_eq', [a.int('axis', 2)]),
    makeNode('Unsqueeze', ['x'], ['unsq'], 'unsqueeze', [a.ints('axes', [0, 3])]),
    makeNode('Squeeze', ['unsq'], ['sq'], 'squeeze', [a.ints('axes', [0])]),
    makeNode('ReduceMean', ['x'], ['rmean'], 'rmean', [a.ints('axes', [1])]),
    makeNode('ReduceSum', ['x'], ['rsum'], 'rsum', [a.ints('axes', [2, 3]), a.int('keepdims', 0)]),
    makeNode('ReduceMax', ['x'], ['rmax'], 'rmax', [a.ints('axes', [-1])]),
    makeNode('BatchNormalization', ['x', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['bn'], 'bn', [a.float('epsilon', 1e-3)]),
    makeNode('TopK', ['x'], ['topv', 'topi'], 'topk', [a.int('k', 3)]),
    makeNode('Scatter', ['sc_data', 'sc_idx', 'sc_upd'], ['scattered'], 'scatter', [a.int('axis', 1)]),
    makeNode('MaxPool', ['x'], ['mpool'], 'maxpool', [
      a.ints('kernel_shape', [3, 3]),
      a.ints('pads', [1, 1, 1, 1]),
      a.ints('strides', [2, 2]),
    ]),
  ];
  const outs = [
    'up_nearest',
    'up_linear',
    'sliced',
    'sliced_noaxes',
    'padded',
    'padded_reflect',
    'clipped',
    'clipped_lo',
    'dropped',
    'softmax_ax1',
    'hardmax_ax0',
    'logsoftmax_default',
    'split_a',
    'split_b',
    'half_a',
    'half_b',
    'sq',
    'rmean',
    'rsum',
    'rmax',
    'bn',
    'topv',
    'scattered',
    'mpool',
  ];
  return {
    nodes,
    inits,
    inputs: [vi('x', X)],
    outputs: [...outs.map((o) => vi(o)), vi('topi', undefined, 7)],
    valueInfo: [vi('x2', [6, 64])],
  };
}

/** Opset 10: Resize-10 up/down/linear, Slice-10 and TopK-10 (already inputs), attribute Pad/Clip (onnxruntime refuses Upsample-10). */
function opset10Spec(): Spec {
  const inits = [
    makeFloatTensor('s_up', [4], Float32Array.from([1, 1, 2, 1.5])),
    makeFloatTensor('s_down', [4], Float32Array.from([1, 1, 0.5, 0.75])),
    makeInt64Tensor('st', [1]),
    makeInt64Tensor('en', [7]),
    makeInt64Tensor('ax', [3]),
    makeInt64Tensor('k', [2]),
  ];
  const nodes = [
    makeNode('Resize', ['x', 's_up'], ['rs_up'], 'resize_up', [a.str('mode', 'nearest')]),
    makeNode('Resize', ['x', 's_down'], ['rs_down'], 'resize_down', [a.str('mode', 'nearest')]),
    makeNode('Resize', ['x', 's_up'], ['rs_lin'], 'resize_lin', [a.str('mode', 'linear')]),
    makeNode('Slice', ['x', 'st', 'en', 'ax'], ['sl'], 'slice10'),
    makeNode('TopK', ['x', 'k'], ['tv', 'ti'], 'topk10'),
    makeNode('Pad', ['x'], ['pd'], 'pad', [a.ints('pads', [0, 1, 0, 0, 0, 0, 2, 1]), a.float('value', -1)]),
    makeNode('Clip', ['x'], ['cl'], 'clip', [a.float('max', 0.2)]),
    makeNode('Dropout', ['x'], ['dr', 'mask'], 'dropout', []),
    makeNode('Softmax', ['x'], ['sm'], 'softmax', [a.int('axis', 2)]),
  ];
  return {
    nodes,
    inits,
    inputs: [vi('x', X)],
    outputs: ['rs_up', 'rs_down', 'rs_lin', 'sl', 'tv', 'pd', 'cl', 'dr', 'sm'].map((o) => vi(o)),
  };
}

describe('opset upgrade from 9 and 10 (checked in onnxruntime)', () => {
  const feeds = () => ({ x: new ort.Tensor('float32', randn(2 * 3 * 64), X) });

  for (const to of [13, 21]) {
    test(`opset 9 → ${to}: every rewritten op gives the same outputs`, async () => {
      const orig = model(9, opset9Spec());
      const up = upgraded(orig, to);
      const o = ops(up);
      for (const gone of ['Upsample', 'Scatter']) assert.ok(!o.includes(gone), `${gone} remains`);
      assert.ok(o.includes('ScatterElements') && o.includes('Resize') && o.includes('Flatten'));
      const byName = (n: string) => up.graph!.node.find((x) => x.name === n)!;
      assert.deepEqual(byName('slice').input.length, 4);
      assert.deepEqual(byName('slice2').input.length, 3);
      assert.equal(byName('clip_lo').input.length, 2);
      assert.equal(byName('pad_r').input.length, 2, 'reflect Pad needs no constant value');
      assert.equal(
        byName('logsoftmax').attribute.find((x) => x.name === 'axis')!.i,
        -1,
        'rank known from value_info: last axis, no Flatten',
      );
      assert.equal(
        byName('split_eq').attribute.some((x) => x.name === 'num_outputs'),
        to >= 18,
      );
      assert.equal(byName('rmean').input.length, to >= 18 ? 2 : 1);
      assert.equal(byName('rsum').input.length, 2);
      assert.equal(orig.opsetImport[0].version, 9, 'the source model is not modified');
      await assertSame(orig, up, feeds());
      await assertSame(orig, up, feeds());
    });

    test(`opset 10 → ${to}: Resize-10 (up, down, linear), Pad/Clip attributes, Softmax axis 2`, async () => {
      const orig = model(10, opset10Spec());
      const up = upgraded(orig, to);
      const rs = up.graph!.node.filter((n) => n.opType === 'Resize');
      assert.equal(rs.length, 3);
      const nm = (n: NodeProto) => new TextDecoder().decode(n.attribute.find((x) => x.name === 'nearest_mode')?.s ?? new Uint8Array());
      assert.deepEqual(rs.map(nm), ['floor', 'ceil', '']);
      await assertSame(orig, up, feeds());
    });
  }

  test('subgraphs are upgraded too (If branches; constants become Constant nodes)', async () => {
    const thenG: GraphProto = {
      name: 'then',
      node: [makeNode('Clip', ['x'], ['t_out'], 'clip_in_then', [a.float('min', 0), a.float('max', 0.5)])],
      initializer: [],
      input: [],
      output: [vi('t_out')],
      valueInfo: [],
      unknown: [],
    };
    const elseG: GraphProto = {
      name: 'else',
      node: [
        makeNode('ReduceMean', ['x'], ['e_mean'], 'rmean_in_else', [a.ints('axes', [1])]),
        makeNode('Add', ['x', 'e_mean'], ['e_out'], 'add_in_else'),
      ],
      initializer: [],
      input: [],
      output: [vi('e_out')],
      valueInfo: [],
      unknown: [],
    };
    const orig = model(9, {
      nodes: [makeNode('If', ['c'], ['y'], 'branch', [a.graph('then_branch', thenG), a.graph('else_branch', elseG)])],
      inits: [],
      inputs: [vi('x', X), vi('c', [], 9)],
      outputs: [vi('y')],
    });
    const up = upgraded(orig, 21);
    const then = up.graph!.node[0].attribute.find((x) => x.name === 'then_branch')!.g!;
    assert.deepEqual(
      then.node.map((n) => n.opType),
      ['Constant', 'Constant', 'Clip'],
    );
    assert.equal(orig.graph!.node[0].attribute[0].g!.node.length, 1, 'the source subgraph is not modified');
    for (const c of [true, false]) await assertSame(orig, up, { ...feeds(), c: new ort.Tensor('bool', [c], []) });
  });

  test('Clip on a value of unknown type: CastLike at opset ≥ 15, refused below', async () => {
    const orig = model(9, {
      nodes: [makeNode('Erf', ['x'], ['e'], 'erf'), makeNode('Clip', ['e'], ['y'], 'clip', [a.float('min', -0.5), a.float('max', 0.25)])],
      inits: [],
      inputs: [vi('x', X)],
      outputs: [vi('y')],
    });
    const up = upgraded(orig, 21);
    assert.deepEqual(ops(up), ['Erf', 'CastLike', 'CastLike', 'Clip']);
    await assertSame(orig, up, feeds());
    assert.throws(() => upgradeOpset(new GraphEditor(orig), 13), /op Clip \(node 'clip'\): the element type of 'e' is unknown/);
  });

  test('ops that cannot be carried over are refused, naming the node and op, and the model is left as it was', () => {
    const cases: [NodeProto, RegExp, number][] = [
      [
        makeNode('ImageScaler', ['x'], ['y'], 'scaler', [a.float('scale', 2)]),
        /op ImageScaler \(node 'scaler'\) is not known to carry over from opset 9 to 13/,
        13,
      ],
      [makeNode('OneHot', ['x', 'd', 'v'], ['y'], 'onehot'), /op OneHot \(node 'onehot'\): negative indices changed meaning/, 13],
      [
        makeNode('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y', 'mean'], 'bn_train'),
        /op BatchNormalization \(node 'bn_train'\): training outputs \(mean\)/,
        21,
      ],
      [makeNode('Dropout', ['x'], ['y', 'mask'], 'drop_mask'), /op Dropout \(node 'drop_mask'\): its mask output is read/, 13],
    ];
    for (const [node, re, to] of cases) {
      const m = model(9, {
        nodes: [node, makeNode('Identity', [node.output[1] || 'y'], ['out'], 'id')],
        inits: [],
        inputs: [vi('x', X)],
        outputs: [vi('out')],
      });
      const ed = new GraphEditor(m);
      assert.throws(
        () => upgradeOpset(ed, to),
        (e: Error) => e instanceof ExportUnsupported && re.test(e.message) && /model is opset 9/.test(e.message),
        node.opType,
      );
      assert.equal(currentOpset(ed), 9);
      assert.equal(ed.graph.node[0], node);
    }
    // Resize-10 nearest that both up- and downsamples has no single nearest_mode.
    const mixed = model(10, {
      nodes: [makeNode('Resize', ['x', 's'], ['y'], 'mixed', [a.str('mode', 'nearest')])],
      inits: [makeFloatTensor('s', [4], Float32Array.from([1, 1, 2, 0.5]))],
      inputs: [vi('x', X)],
      outputs: [vi('y')],
    });
    assert.throws(
      () => upgradeOpset(new GraphEditor(mixed), 13),
      /op Resize \(node 'mixed'\): nearest Resize-10 that both up- and downsamples/,
    );
    assert.throws(
      () => upgradeOpset(new GraphEditor(model(8, { nodes: [], inits: [], inputs: [], outputs: [] })), 13),
      /upgrading from below 9/,
    );
  });

  test('the op table lists each rewritten op with its opset and every other known op as compatible', () => {
    const t = opsetUpgradeTable();
    assert.match(t.Slice, /^10: /);
    assert.match(t.Split, /^13: .*; 18: /);
    assert.equal(t.MatMul, 'compatible');
    assert.equal(t.ImageScaler, undefined);
  });
});

/** Opset 9: x [2,3,8,8] → Conv (weight) → Clip(attrs) → Upsample → Slice → Reshape [2, 6·?] → MatMul (weight) → Softmax axis 1 on rank 3. */
function exportSpec(extra: NodeProto[] = []): Spec {
  const inits = [
    makeFloatTensor('conv_w', [6, 3, 3, 3], randn(162, 0.3)),
    makeFloatTensor('up_s', [4], Float32Array.from([1, 1, 2, 2])),
    makeInt64Tensor('to3', [2, 6, 256]),
    makeFloatTensor('fc_w', [256, 32], randn(256 * 32, 0.1)),
  ];
  const nodes = [
    makeNode('Conv', ['x', 'conv_w'], ['c'], 'conv', [a.ints('kernel_shape', [3, 3]), a.ints('pads', [1, 1, 1, 1])]),
    makeNode('Clip', ['c'], ['c6'], 'relu6', [a.float('min', 0), a.float('max', 6)]),
    makeNode('Upsample', ['c6', 'up_s'], ['u'], 'up', [a.str('mode', 'nearest')]),
    makeNode('Slice', ['u'], ['s'], 'crop', [a.ints('starts', [0, 0]), a.ints('ends', [16, 16]), a.ints('axes', [2, 3])]),
    makeNode('Reshape', ['s', 'to3'], ['f'], 'flatten'),
    ...extra,
    makeNode('MatMul', ['f', 'fc_w'], ['logits'], 'fc'),
    makeNode('Softmax', ['logits'], ['y'], 'softmax', [a.int('axis', 1)]),
  ];
  return { nodes, inits, inputs: [vi('x', X)], outputs: [vi('y')] };
}

describe('QDQ export of an opset-9 model', () => {
  const x = new ort.Tensor('float32', randn(2 * 3 * 64), X);
  const quantize = (m: ReturnType<typeof parseModel>, bits: number, group: number) =>
    m.layers
      .filter((l) => l.quantizable)
      .map((l) => {
        const w = m.getWeight(l.name);
        return { layer: l.name, ...rtn(w.data, w.rows, w.cols, bits, l.op === 'Conv' ? -1 : group) };
      });

  for (const [bits, group, opset] of [
    [8, -1, 13],
    [4, 32, 21],
  ] as const) {
    test(`${bits}-bit: layers written as QDQ, opset 9 → ${opset}, outputs equal the fake-quant export`, async () => {
      const src = parseModel(encodeModel(model(9, exportSpec())), 'opset9.onnx', '/tmp');
      const results = quantize(src, bits, group);
      assert.deepEqual(results.map((res) => res.layer).sort(), ['conv_w', 'fc_w']);
      const qdq = exportModel(src, results, { format: 'qdq' });
      const fake = exportModel(src, results, { format: 'fake' });
      assert.deepEqual(
        qdq.layers.map((l) => [l.layer, l.written, l.note]),
        results.map((res) => [res.layer, 'qdq', undefined]),
      );
      assert.equal(qdq.opset, opset);
      assert.equal(fake.opset, 9, 'fake-quant keeps the opset');
      const back = parseModel(qdq.bytes, 'qdq.onnx', '/tmp');
      assert.equal(back.graph.node.filter((n) => n.opType === 'DequantizeLinear').length, 2);
      assert.ok(!back.graph.node.some((n) => n.opType === 'Upsample'));
      // runModel keeps onnxruntime from fusing DequantizeLinear + MatMul into int8-activation MatMulNBits.
      const run = (b: Uint8Array) => runModel(b, { x }, 'y');
      const q = await run(qdq.bytes);
      const f = await run(fake.bytes);
      assert.ok(relErr(q, f) < 1e-5, `QDQ vs fake: ${relErr(q, f)}`);
      const orig = await run(encodeModel(model(9, exportSpec())));
      assert.ok(relErr(f, orig) > 1e-7, 'quantization changed the output');
    });
  }

  const rec = join(ocrDir, 'ch_PP-OCRv4_rec_infer.onnx');
  test(
    'a real opset-9 model (PP-OCRv4 rec: Slice, Clip, Softmax, ReduceMean, Squeeze): QDQ equals fake-quant',
    { skip: existsSync(rec) ? false : `${rec} not found` },
    async () => {
      const src = await loadModel(rec);
      assert.equal(src.opset, 9);
      const results = quantize(src, 8, -1);
      const qdq = exportModel(src, results, { format: 'qdq' });
      assert.ok(
        qdq.layers.every((l) => l.written === 'qdq' && !l.note),
        JSON.stringify(qdq.layers.find((l) => l.note)),
      );
      assert.equal(qdq.opset, 13);
      const fake = exportModel(src, results, { format: 'fake' });
      const xr = new ort.Tensor('float32', randn(3 * 48 * 320), [1, 3, 48, 320]);
      const err = relErr(await runModel(qdq.bytes, { x: xr }), await runModel(fake.bytes, { x: xr }));
      assert.ok(err < 1e-5, `QDQ vs fake: ${err}`);
    },
  );

  test('an op that cannot be carried over: the layers fall back to fake-quant with a note naming it', async () => {
    const extra = [
      makeNode('Dropout', ['f'], ['f_drop', 'f_mask'], 'drop'),
      makeNode('Mul', ['f_drop', 'f_mask'], ['f_masked'], 'use_mask'),
    ];
    const spec = exportSpec(extra);
    spec.nodes.find((n) => n.name === 'fc')!.input[0] = 'f_masked';
    const src = parseModel(encodeModel(model(9, spec)), 'opset9.onnx', '/tmp');
    const results = quantize(src, 8, -1);
    const qdq = exportModel(src, results, { format: 'qdq' });
    assert.equal(qdq.opset, 9);
    for (const l of qdq.layers) {
      assert.equal(l.written, 'fake');
      assert.match(l.note!, /QDQ needs opset 13 but the model is opset 9; op Dropout \(node 'drop'\): its mask output is read/);
    }
    const fake = exportModel(src, results, { format: 'fake' });
    assert.deepEqual(qdq.bytes, fake.bytes);
  });
});
