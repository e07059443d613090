/**
 * The packed writer in onnxruntime on small models of every consumer layout: MatMul (W stored
 * [in, out]), fp16 MatMul, Gemm with transB (W stored [out, in]) and Conv (O × I × kh × kw), plus the
 * opset upgrade (to 11) or fallback to fake-quant for models too old to upgrade.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { exportModel } from '../../../../engine/export/exportModel';
import type { LayerResult } from '../../../../engine/export/types';
import { attr } from '../../../../engine/export/graphEdit';
import { parseModel, type OnnxModel } from '../../../../engine/onnx/model';
import type { AttributeProto, ModelProto } from '../../../../engine/onnx/onnxProto';
import { DT, floatToHalf, halfToFloat, makeFloatTensor } from '../../../../engine/onnx/tensor';
import * as lowbit from '../../../../native/ts/binaryLowRank';
import { rtn } from '../../../integration/engine/exportFixtures';
import { encode, matmulModel, node, randn, vi } from '../onnx/tinyModels';

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

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const y = (await s.run(feeds))[s.outputNames[0]];
  return y.type === 'float16' ? Float32Array.from(y.data as Uint16Array, halfToFloat) : (y.data as Float32Array);
}

/** Dual binarization of every layer (exact decode, 2 bits) or 3-bit RTN. */
async function quantize(m: OnnxModel, how: 'dualbin' | 'rtn3'): Promise<LayerResult[]> {
  const out: LayerResult[] = [];
  for (const l of m.layers.filter((x) => x.quantizable)) {
    const w = m.getWeight(l.name);
    if (how === 'rtn3') out.push({ layer: l.name, ...rtn(w.data, w.rows, w.cols, 3, 16) });
    else {
      const r = await lowbit.dualBinarize(w.data, w.rows, w.cols, { groupSize: 16, iters: 3 });
      out.push({ layer: l.name, dequant: r.dequant, binary: { kind: 'dualbin', group: 16, b1: r.b1, b2: r.b2, alphas: r.alphas } });
    }
  }
  return out;
}

/** Packed and fake exports compute the same outputs; returns the packed export. */
async function samePacked(m: OnnxModel, results: LayerResult[], feeds: Record<string, ort.Tensor>) {
  const packed = exportModel(m, results, { format: 'packed' });
  const fake = exportModel(m, results, { format: 'fake' });
  assert.deepEqual(await run(packed.bytes, feeds), await run(fake.bytes, feeds));
  return packed;
}

function gemmConvModel(): ModelProto {
  const conv = node('Conv', ['X', 'cw'], ['c']);
  conv.attribute = [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])];
  const gemm = node('Gemm', ['f', 'gw', 'gb'], ['Y']);
  gemm.attribute = [attr.int('transB', 1)];
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13, unknown: [] }],
    producerName: 'lowbit-test',
    graph: {
      name: 'g',
      node: [conv, node('Flatten', ['c'], ['f']), gemm],
      initializer: [
        makeFloatTensor('cw', [8, 3, 3, 3], randn(216, 4)),
        makeFloatTensor('gw', [10, 8 * 4 * 4], randn(1280, 5)),
        makeFloatTensor('gb', [10], randn(10, 6)),
      ],
      input: [vi('X', DT.FLOAT, [2, 3, 4, 4])],
      output: [vi('Y', DT.FLOAT, [2, 10])],
      valueInfo: [],
      unknown: [],
    },
    unknown: [],
  };
}

describe('packed writer layouts', () => {
  test('MatMul (fp32 and fp16 models): decoded weights equal the fake-quant weights', async () => {
    for (const dtype of [DT.FLOAT, DT.FLOAT16]) {
      const proto = matmulModel(40, 24, makeFloatTensor('W', [40, 24], randn(960, 2), dtype));
      proto.graph!.input = [vi('X', dtype, ['b', 40])];
      proto.graph!.output = [vi('Y', dtype, ['b', 24])];
      const m = parseModel(encode(proto), 'mm.onnx');
      const x = randn(80, 3);
      const feeds = {
        X:
          dtype === DT.FLOAT ? new ort.Tensor('float32', x, [2, 40]) : new ort.Tensor('float16', Uint16Array.from(x, floatToHalf), [2, 40]),
      };
      for (const how of ['dualbin', 'rtn3'] as const) {
        const p = await samePacked(m, await quantize(m, how), feeds);
        assert.equal(p.layers[0].written, 'packed');
        assert.ok(
          !parseModel(p.bytes, 'p').graph.initializer.some((t) => t.name === 'W' || t.dims.join() === '40,24'),
          'no float copy of W on disk',
        );
      }
    }
  });

  test('Conv (O×I×kh×kw) and Gemm with transB', async () => {
    const m = parseModel(encode(gemmConvModel()), 'gc.onnx');
    assert.deepEqual(
      m.layers
        .filter((l) => l.quantizable)
        .map((l) => l.op)
        .sort(),
      ['Conv', 'Gemm'],
    );
    const feeds = { X: new ort.Tensor('float32', randn(96, 7), [2, 3, 4, 4]) };
    for (const how of ['dualbin', 'rtn3'] as const) {
      const p = await samePacked(m, await quantize(m, how), feeds);
      assert.ok(p.layers.every((l) => l.written === 'packed' && l.storedBytes! > 0));
    }
  });

  test('an opset-9 model is upgraded to 11; below the upgradable range the layer falls back to fake-quant with a note', async () => {
    const at = (opset: number) => {
      const proto = matmulModel(16, 8);
      proto.opsetImport = [{ domain: '', version: opset, unknown: [] }];
      return parseModel(encode(proto), `opset${opset}.onnx`);
    };
    const m9 = at(9);
    const p = await samePacked(m9, await quantize(m9, 'dualbin'), { X: new ort.Tensor('float32', randn(32, 8), [2, 16]) });
    assert.equal(p.layers[0].written, 'packed');
    assert.equal(p.opset, 11);
    const m7 = at(7);
    const e = exportModel(m7, await quantize(m7, 'dualbin'), { format: 'packed' });
    assert.equal(e.layers[0].written, 'fake');
    assert.match(e.layers[0].note!, /packed decoding needs opset 11: .*opset 7/);
    assert.equal(e.opset, 7);
  });
});
