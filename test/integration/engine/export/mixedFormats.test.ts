// format: auto on one model holding MatMul, Gemm, Conv and ConvTranspose: each layer is written in the
// form the plan chose (MatMulNBits, QDQ blocked or per-channel, packed), the model runs in
// onnxruntime-node, and every layer's output equals the fake-quant model's (same codes as float weights).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { AttributeProto, ModelProto } from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { parseModel } from '../../../../engine/onnx/model';
import { exportModel } from '../../../../engine/export/exportModel';
import { readRecipe } from '../../../../recipe/checkRecipe';
import { resolvePlan } from '../../../../recipe/resolvePlan';
import { encode, node, randn, vi } from '../../../unit/engine/onnx/tinyModels';
import { rtn, relErr } from '../exportFixtures';

const ints = (name: string, v: number[]): AttributeProto => ({
  name,
  type: 7,
  ints: v,
  floats: [],
  strings: [],
  tensors: [],
  graphs: [],
  unknown: [],
});
const int = (name: string, v: number): AttributeProto => ({
  name,
  type: 2,
  i: v,
  ints: [],
  floats: [],
  strings: [],
  tensors: [],
  graphs: [],
  unknown: [],
});

/** x [n,8,6,6] → Conv 3×3 (16) → ConvTranspose 2×2 stride 2 (4) → Flatten → Gemm (64, transB) → MatMul (32); every layer's output is a graph output. */
function mixedModel(opset: number): ModelProto {
  const conv = node('Conv', ['x', 'conv.w', 'conv.b'], ['c1'], 'conv');
  conv.attribute.push(ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]));
  const up = node('ConvTranspose', ['c1', 'up.w'], ['u'], 'up');
  up.attribute.push(ints('kernel_shape', [2, 2]), ints('strides', [2, 2]));
  const flat = node('Flatten', ['u'], ['f'], 'flat');
  const gemm = node('Gemm', ['f', 'fc.w', 'fc.b'], ['g'], 'fc');
  gemm.attribute.push(int('transB', 1));
  const mm = node('MatMul', ['g', 'proj.w'], ['y'], 'proj');
  const t = (name: string, dims: number[], seed: number) =>
    makeFloatTensor(
      name,
      dims,
      randn(
        dims.reduce((a, b) => a * b, 1),
        seed,
      ),
    );
  return {
    irVersion: 10,
    opsetImport: [{ domain: '', version: opset, unknown: [] }],
    producerName: 'lowbit-test',
    graph: {
      name: 'mixed',
      node: [conv, up, flat, gemm, mm],
      initializer: [
        t('conv.w', [16, 8, 3, 3], 1),
        t('conv.b', [16], 2),
        t('up.w', [16, 4, 2, 2], 3),
        t('fc.w', [64, 576], 4),
        t('fc.b', [64], 5),
        t('proj.w', [64, 32], 6),
      ],
      input: [vi('x', DT.FLOAT, ['n', 8, 6, 6])],
      output: [vi('c1', DT.FLOAT), vi('u', DT.FLOAT), vi('g', DT.FLOAT), vi('y', DT.FLOAT)],
      valueInfo: [],
      unknown: [],
    },
    unknown: [],
  };
}

async function outputs(bytes: Uint8Array, x: ort.Tensor): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes, { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } });
  const r = await s.run({ x });
  await s.release();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
}

const RECIPE = `version: 1
model: ./mixed.onnx
output: ./out/mixed-w4.onnx
defaults: { method: rtn, bits: 4, group_size: 32 }
`;

describe('format: auto writes mixed formats that match fake-quant layer by layer', () => {
  for (const [opset, want] of [
    [21, { 'conv.w': 'qdq', 'up.w': 'qdq', 'fc.w': 'qdq', 'proj.w': 'matmulnbits' }],
    [13, { 'conv.w': 'qdq', 'up.w': 'qdq', 'fc.w': 'qdq', 'proj.w': 'matmulnbits' }],
  ] as const) {
    test(`opset ${opset}: ${Object.values(want).join(', ')}`, async () => {
      const model = parseModel(encode(mixedModel(opset)), '/tmp/lowbit-mixed/mixed.onnx', '/tmp');
      const { plan, diagnostics } = resolvePlan(readRecipe(RECIPE), model.summary().layers, '/tmp/lowbit-mixed/recipe.lowbit.yaml');
      assert.ok(plan, JSON.stringify(diagnostics));
      assert.deepEqual(Object.fromEntries(plan.layers.map((l) => [l.name, l.format])), want);
      // Below 21 Conv and Gemm are per-channel int8; at 21 every layer keeps 4 bits in groups of 32.
      const int8 = (name: string) => opset < 21 && (name === 'conv.w' || name === 'fc.w');
      for (const l of plan.layers) assert.equal(l.bits, int8(l.name) ? 8 : 4, l.name);
      const results = plan.layers.map((p) => {
        const w = model.getWeight(p.name);
        const r = rtn(w.data, w.rows, w.cols, p.bits, p.groupSize);
        return { layer: p.name, dequant: r.dequant, q: r.q };
      });
      const real = exportModel(model, results, { format: 'auto', layerFormats: new Map(plan.layers.map((l) => [l.name, l.format!])) });
      assert.deepEqual(Object.fromEntries(real.layers.map((l) => [l.layer, l.written])), want, JSON.stringify(real.layers));
      // Only the ConvTranspose (no per-output-channel axis below 21) raises the opset.
      assert.equal(real.opset, 21);
      const fake = exportModel(model, results, { format: 'fake' });
      const ops = parseModel(real.bytes, '/tmp/lowbit-mixed/out.onnx', '/tmp').graph.node.map((n) => n.opType);
      assert.ok(ops.includes('MatMulNBits') && ops.includes('DequantizeLinear'), ops.join(','));
      if (opset >= 21) assert.ok(ops.includes('Reshape'), 'blocked Conv: matrix DequantizeLinear then Reshape');
      const x = new ort.Tensor('float32', randn(2 * 8 * 6 * 6, 9), [2, 8, 6, 6]);
      const [a, b, fp] = await Promise.all([outputs(real.bytes, x), outputs(fake.bytes, x), outputs(encode(mixedModel(opset)), x)]);
      for (const name of ['c1', 'u', 'g', 'y']) {
        const e = relErr(a[name], b[name]);
        assert.ok(e < 1e-5, `${name}: compressed vs fake-quant rel. error ${e}`);
        assert.ok(relErr(b[name], fp[name]) > 1e-4, `${name}: the quantization changed the output`);
      }
      // Stored bytes per layer: a quarter (int8) or less of the fp32 weight.
      for (const l of real.layers) {
        const p = model.layer(l.layer).params;
        assert.ok(
          l.storedBytes! > 0 && l.storedBytes! < p * (int8(l.layer) ? 1.2 : 0.8),
          `${l.layer}: ${l.storedBytes} bytes for ${p} weights`,
        );
      }
    });
  }
});
