// LSTM/GRU/RNN W and R are layers: data-free (hqq, with a warning when a calibrated method was asked),
// stored as QDQ by format auto (per-channel int8 for one direction below opset 21, blocked for two),
// and the model runs in onnxruntime-node with outputs equal to the fake-quant model's.
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
const str = (name: string, v: string): AttributeProto => ({
  name,
  type: 3,
  s: new TextEncoder().encode(v),
  ints: [],
  floats: [],
  strings: [],
  tensors: [],
  graphs: [],
  unknown: [],
});
const H = 32,
  I = 24;

/** x [T=5, B=2, I] → LSTM (forward, H) → Squeeze → GRU (bidirectional, H) → y [5, 2, 2, H]. */
function recurrentModel(opset: number): ModelProto {
  const lstm = node('LSTM', ['x', 'lstm.W', 'lstm.R', 'lstm.B'], ['h1'], 'lstm');
  lstm.attribute.push(int('hidden_size', H));
  const sq = node('Squeeze', ['h1', 'axes1'], ['h1s'], 'sq');
  const gru = node('GRU', ['h1s', 'gru.W', 'gru.R'], ['y'], 'gru');
  gru.attribute.push(int('hidden_size', H), str('direction', 'bidirectional'));
  const t = (name: string, dims: number[], seed: number) =>
    makeFloatTensor(
      name,
      dims,
      randn(
        dims.reduce((a, b) => a * b, 1),
        seed,
      ).map((v) => v * 0.3),
    );
  const axes = {
    ...makeFloatTensor('axes1', [1], new Float32Array([1])),
    dataType: DT.INT64,
    rawData: new Uint8Array(new BigInt64Array([1n]).buffer),
  };
  return {
    irVersion: 10,
    opsetImport: [{ domain: '', version: opset, unknown: [] }],
    producerName: 'lowbit-test',
    graph: {
      name: 'rnn',
      node: [lstm, sq, gru],
      initializer: [
        t('lstm.W', [1, 4 * H, I], 1),
        t('lstm.R', [1, 4 * H, H], 2),
        t('lstm.B', [1, 8 * H], 3),
        t('gru.W', [2, 3 * H, H], 4),
        t('gru.R', [2, 3 * H, H], 5),
        axes,
      ],
      input: [vi('x', DT.FLOAT, [5, 2, I])],
      output: [vi('h1', DT.FLOAT), vi('y', DT.FLOAT)],
      valueInfo: [],
      unknown: [],
    },
    unknown: [],
  };
}

async function outputs(bytes: Uint8Array, x: ort.Tensor): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes);
  const r = await s.run({ x });
  await s.release();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
}

describe('recurrent W/R as QDQ layers', () => {
  test('layers found, data-free with a warning, auto QDQ per direction count, outputs equal fake-quant', async () => {
    const model = parseModel(encode(recurrentModel(14)), '/tmp/lowbit-rnn/rnn.onnx', '/tmp');
    const layers = model.summary().layers;
    assert.deepEqual(
      layers.map((l) => [l.name, l.op, l.shape, l.quantizable]),
      [
        ['lstm.W', 'LSTM', [4 * H, I], true],
        ['lstm.R', 'LSTM', [4 * H, H], true],
        ['gru.W', 'GRU', [6 * H, H], true],
        ['gru.R', 'GRU', [6 * H, H], true],
      ],
    );
    assert.ok(layers.every((l) => l.dataFree));
    const text = 'version: 1\nmodel: ./rnn.onnx\noutput: ./out/rnn.onnx\ndefaults: { method: gptq, bits: 4, group_size: 8 }\n';
    const { plan, diagnostics } = resolvePlan(readRecipe(text), layers, '/tmp/lowbit-rnn/r.lowbit.yaml');
    assert.ok(plan, JSON.stringify(diagnostics));
    const warn = diagnostics.find((d) => d.code === 'data-free')!;
    assert.equal(warn.severity, 'warning');
    assert.match(warn.message, /gptq needs calibration, .*lstm\.W, lstm\.R, gru\.W and 1 more.*quantized with hqq, data-free/);
    assert.equal(text.slice(warn.span.start, warn.span.end), 'gptq');
    assert.deepEqual(
      plan.layers.map((l) => [l.name, l.method, l.format, l.bits, l.groupSize]),
      [
        ['lstm.W', 'hqq', 'qdq', 8, -1],
        ['lstm.R', 'hqq', 'qdq', 8, -1],
        ['gru.W', 'hqq', 'qdq', 4, 8],
        ['gru.R', 'hqq', 'qdq', 4, 8],
      ],
    );
    const results = plan.layers.map((p) => {
      const w = model.getWeight(p.name);
      const r = rtn(w.data, w.rows, w.cols, p.bits, p.groupSize);
      return { layer: p.name, dequant: r.dequant, q: r.q };
    });
    const real = exportModel(model, results, { format: 'auto', layerFormats: new Map(plan.layers.map((l) => [l.name, l.format!])) });
    assert.ok(
      real.layers.every((l) => l.written === 'qdq'),
      JSON.stringify(real.layers),
    );
    assert.equal(real.opset, 21, 'the bidirectional GRU raises the opset for blocked scales');
    const fake = exportModel(model, results, { format: 'fake' });
    const x = new ort.Tensor('float32', randn(5 * 2 * I, 9), [5, 2, I]);
    const [a, b, fp] = await Promise.all([outputs(real.bytes, x), outputs(fake.bytes, x), outputs(encode(recurrentModel(14)), x)]);
    for (const name of ['h1', 'y']) {
      assert.ok(relErr(a[name], b[name]) < 1e-5, `${name}: QDQ vs fake-quant ${relErr(a[name], b[name])}`);
      assert.ok(relErr(b[name], fp[name]) > 1e-4, `${name}: quantization changed nothing`);
    }
  });
});
