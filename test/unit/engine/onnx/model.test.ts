import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel, parseModel } from '../../../../engine/onnx/model';
import { decodeModel, encodeModel } from '../../../../engine/onnx/onnxProto';
import { tensorToFloat32 } from '../../../../engine/onnx/tensor';
import { ocrDir, randn, skipNoStories, storiesModel } from './tinyModels';

function ids(b: number, s: number): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: b * s }, (_, i) => BigInt((i * 37 + 11) % 512)),
    [b, s],
  );
}

describe('stories260K model I/O', { skip: skipNoStories }, () => {
  test('finds the 36 MatMul layers with [out,in] shapes and their inputs', async () => {
    const m = await loadModel(storiesModel);
    const s = m.summary();
    const q = s.layers.filter((l) => l.quantizable && !l.embedding);
    assert.equal(q.length, 36);
    const names = new Set(q.map((l) => l.name));
    for (let i = 0; i < 5; i++)
      for (const w of ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3']) assert.ok(names.has(`layers.${i}.${w}`), `layers.${i}.${w}`);
    assert.ok(names.has('output'));
    assert.ok(q.every((l) => l.op === 'MatMul' && l.dtype === 'float32'));
    assert.deepEqual(q.find((l) => l.name === 'layers.0.w1')!.shape, [172, 64]);
    assert.deepEqual(q.find((l) => l.name === 'layers.0.w1')!.dims, [64, 172]);
    assert.deepEqual(q.find((l) => l.name === 'layers.0.w2')!.shape, [64, 172]);
    const emb = s.layers.find((l) => l.name === 'tok_embeddings')!;
    // The embedding table is an opt-in layer: rows = vocabulary, groups along the hidden axis.
    assert.equal(emb.quantizable, true);
    assert.equal(emb.embedding, true);
    assert.equal(emb.op, 'Gather');
    assert.deepEqual(emb.shape, [512, 64]);
    assert.equal(emb.tiedWith, undefined, 'stories260K stores its head as a separate copy');
    assert.equal(s.opset, 14);
    assert.deepEqual(
      s.inputs.map((i) => i.name),
      ['input_ids'],
    );
    assert.deepEqual(s.outputs[0].dims, ['batch', 'seq', 512]);
    // Layers of one attention block read the same normalized activation.
    assert.equal(m.layerInput('layers.0.wq'), m.layerInput('layers.0.wk'));
    assert.notEqual(m.layerInput('layers.0.wq'), m.layerInput('layers.0.wo'));
  });

  test('getWeight returns Bᵀ (W[o,i] = B[i,o])', async () => {
    const m = await loadModel(storiesModel);
    const w = m.getWeight('layers.2.w1');
    assert.equal(w.rows, 172);
    assert.equal(w.cols, 64);
    const b = tensorToFloat32(
      m.src,
      m.graph.initializer.find((t) => t.name === 'layers.2.w1')!,
    );
    for (const [o, i] of [
      [0, 0],
      [171, 63],
      [5, 17],
      [100, 2],
    ])
      assert.equal(w.data[o * 64 + i], b[i * 172 + o]);
  });

  test('serialize round-trips: same bytes when re-encoded, identical logits in onnxruntime', async () => {
    const m = await loadModel(storiesModel);
    const bytes = m.serialize();
    assert.deepEqual(encodeModel(decodeModel(bytes, 'again')), bytes);
    const feeds = { input_ids: ids(2, 7) };
    const a = await (await ort.InferenceSession.create(storiesModel)).run(feeds);
    const b = await (await ort.InferenceSession.create(bytes)).run(feeds);
    assert.deepEqual(b.logits.dims, [2, 7, 512]);
    assert.deepEqual(b.logits.data, a.logits.data);
  });

  test('withExtraOutputs exposes layer inputs; logits = x·Wᵀ of the output layer', async () => {
    const m = await loadModel(storiesModel);
    const x = m.layerInput('output');
    const wqIn = m.layerInput('layers.1.wq');
    const sess = await ort.InferenceSession.create(m.withExtraOutputs([x, wqIn, 'logits']));
    const r = await sess.run({ input_ids: ids(1, 5) });
    assert.deepEqual(r[x].dims, [1, 5, 64]);
    assert.deepEqual(r[wqIn].dims, [1, 5, 64]);
    const w = m.getWeight('output');
    const xs = r[x].data as Float32Array;
    const logits = r.logits.data as Float32Array;
    let maxErr = 0;
    for (let t = 0; t < 5; t++)
      for (let o = 0; o < 512; o++) {
        let acc = 0;
        for (let i = 0; i < 64; i++) acc += xs[t * 64 + i] * w.data[o * 64 + i];
        maxErr = Math.max(maxErr, Math.abs(acc - logits[t * 512 + o]));
      }
    assert.ok(maxErr < 1e-4, `max error ${maxErr}`);
    assert.throws(() => m.withExtraOutputs(['no_such_tensor']), /no_such_tensor/);
  });
});

describe('OCR models (weights as Constant nodes, Conv + MatMul)', () => {
  const files = readdirSync(ocrDir).filter((f) => f.endsWith('.onnx'));
  test('lists Conv and MatMul layers from Constant nodes', async () => {
    const m = await loadModel(join(ocrDir, 'ch_PP-OCRv4_rec_infer.onnx'));
    const s = m.summary();
    assert.ok(m.graph.initializer.length === 0 || s.layers.length > 0);
    const convs = s.layers.filter((l) => l.op === 'Conv' && l.quantizable);
    const mm = s.layers.filter((l) => l.op === 'MatMul' && l.quantizable);
    assert.ok(convs.length > 30, `${convs.length} convs`);
    assert.ok(mm.length >= 1);
    const dw = convs.find((l) => l.dims[1] === 1 && l.dims[2] === 3)!;
    assert.deepEqual(dw.shape, [dw.dims[0], 9]);
    const w = m.getWeight(convs[0].name);
    assert.equal(w.data.length, w.rows * w.cols);
  });

  for (const f of files.filter((x) => !x.includes('_det_'))) {
    test(`round-trip of ${f} runs in onnxruntime with identical output`, async () => {
      const path = join(ocrDir, f);
      const m = await loadModel(path);
      const [inp] = m.summary().inputs;
      const shape = f.includes('rec') ? [1, 3, 48, 64] : [1, 3, 48, 192];
      const x = new ort.Tensor(
        'float32',
        randn(
          shape.reduce((a, b) => a * b, 1),
          3,
        ),
        shape,
      );
      const a = await (await ort.InferenceSession.create(path)).run({ [inp.name]: x });
      const b = await (await ort.InferenceSession.create(m.serialize())).run({ [inp.name]: x });
      const k = Object.keys(a)[0];
      assert.deepEqual(b[k].data, a[k].data);
    });
  }

  test('parseModel of serialized bytes finds the same layers', async () => {
    const m = await loadModel(join(ocrDir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'));
    const again = parseModel(m.serialize(), 'mem.onnx');
    assert.deepEqual(again.summary().layers, m.summary().layers);
  });
});
