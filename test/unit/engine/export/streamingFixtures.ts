/** A three-tensor MatMul model (and its external-data variant) for the streaming-export tests. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import { encodeModel, type ModelProto, type TensorProto } from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { externalFloatTensor, node, randn, vi } from '../onnx/tinyModels';

export const W1 = randn(64 * 32, 3),
  W2 = randn(32 * 16, 4),
  B = randn(16, 5);
/** Y = (X[b,64]·W1[64,32])·W2[32,16] + B: W1 8 KiB, W2 2 KiB, B 64 bytes (stays inline). */
export function model(
  w1: TensorProto = makeFloatTensor('W1', [64, 32], W1),
  w2: TensorProto = makeFloatTensor('W2', [32, 16], W2),
): ModelProto {
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 'lowbit-test',
    unknown: [],
    graph: {
      name: 'g',
      node: [node('MatMul', ['X', 'W1'], ['H']), node('MatMul', ['H', 'W2'], ['P']), node('Add', ['P', 'B'], ['Y'])],
      initializer: [w1, w2, makeFloatTensor('B', [16], B)],
      input: [vi('X', DT.FLOAT, ['b', 64])],
      output: [vi('Y', DT.FLOAT, ['b', 16])],
      valueInfo: [],
      unknown: [],
    },
  };
}

/** The input model written with W1 and W2 in `<name>.data` (W2 at a non-zero offset). */
export async function writeExternalInput(path: string, dataName = 'in.onnx.data'): Promise<OnnxModel> {
  const data = new Uint8Array(8192 + 100 + 2048);
  data.set(new Uint8Array(W1.buffer), 0);
  data.set(new Uint8Array(W2.buffer), 8192 + 100);
  writeFileSync(join(path, '..', dataName), data);
  writeFileSync(
    path,
    encodeModel(model(externalFloatTensor('W1', [64, 32], dataName, 0), externalFloatTensor('W2', [32, 16], dataName, 8192 + 100))),
  );
  return loadModel(path);
}

const X = randn(2 * 64, 9);
export function reference(w1 = W1): Float32Array {
  const y = new Float32Array(2 * 16);
  for (let b = 0; b < 2; b++) {
    const h = new Float64Array(32);
    for (let i = 0; i < 64; i++) for (let j = 0; j < 32; j++) h[j] += X[b * 64 + i] * w1[i * 32 + j];
    for (let o = 0; o < 16; o++) {
      let s = B[o];
      for (let j = 0; j < 32; j++) s += h[j] * W2[j * 16 + o];
      y[b * 16 + o] = s;
    }
  }
  return y;
}
export async function runFile(path: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  try {
    return (await s.run({ X: new ort.Tensor('float32', X, [2, 64]) })).Y.data as Float32Array;
  } finally {
    await s.release();
  }
}
export function assertClose(got: Float32Array, want: Float32Array): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i] - want[i]) < 1e-4 * (1 + Math.abs(want[i])), `y[${i}] ${got[i]} vs ${want[i]}`);
}
