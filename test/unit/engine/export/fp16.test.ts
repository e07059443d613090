import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { exportModel } from '../../../../engine/export/exportModel';
import { parseModel } from '../../../../engine/onnx/model';
import { DT, floatToHalf, halfToFloat, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { relErr, rtn } from '../../../integration/engine/exportFixtures';
import { encode, matmulModel, randn, vi } from '../onnx/tinyModels';

test('fp16 model: fake, MatMulNBits (fp16 scales) and QDQ (opset 21) agree in onnxruntime', async () => {
  const K = 64;
  const N = 32;
  const proto = matmulModel(K, N, makeFloatTensor('W', [K, N], randn(K * N, 5), DT.FLOAT16));
  proto.graph!.input = [vi('X', DT.FLOAT16, ['b', K])];
  proto.graph!.output = [vi('Y', DT.FLOAT16, ['b', N])];
  const m = parseModel(encode(proto), 'f16.onnx');
  assert.equal(m.summary().layers[0].dtype, 'float16');
  const w = m.getWeight('W');
  const r = rtn(w.data, w.rows, w.cols, 4, 32);
  const x = new ort.Tensor('float16', Uint16Array.from(randn(2 * K, 6), floatToHalf), [2, K]);
  const outs: Float32Array[] = [];
  for (const format of ['fake', 'matmulnbits', 'qdq'] as const) {
    const e = exportModel(m, [{ layer: 'W', ...r }], { format });
    assert.equal(e.layers[0].written, format);
    const back = parseModel(e.bytes, 'b');
    assert.ok(
      back.graph.initializer.every((t) => t.dataType !== DT.FLOAT),
      `${format}: no fp32 tensors in an fp16 model`,
    );
    const y = (
      await (await ort.InferenceSession.create(e.bytes, { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } })).run({ X: x })
    ).Y;
    assert.equal(y.type, 'float16');
    outs.push(Float32Array.from(y.data as Uint16Array, halfToFloat));
  }
  assert.ok(relErr(outs[1], outs[0]) < 2e-3, `MatMulNBits vs fake ${relErr(outs[1], outs[0])}`);
  assert.ok(relErr(outs[2], outs[0]) < 2e-3, `QDQ vs fake ${relErr(outs[2], outs[0])}`);
});
