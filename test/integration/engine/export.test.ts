import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { exportModel } from '../../../engine/export/exportModel';
import type { LayerResult } from '../../../engine/export/types';
import { loadModel, parseModel, type OnnxModel } from '../../../engine/onnx/model';
import { DT, roundToHalf } from '../../../engine/onnx/tensor';
import { ocrDir, randn, skipNoStories, storiesModel } from '../../unit/engine/onnx/tinyModels';
import { relErr, rtn, runModel, tokens } from './exportFixtures';

function quantizeAll(m: OnnxModel, bits: number, group: number): LayerResult[] {
  return m.layers
    .filter((l) => l.quantizable && !l.embedding)
    .map((l) => {
      const w = m.getWeight(l.name);
      const { q, dequant } = rtn(w.data, w.rows, w.cols, bits, group);
      return { layer: l.name, dequant, q };
    });
}

describe('export of stories260K', { skip: skipNoStories }, () => {
  const feeds = { input_ids: tokens(2, 9) };
  for (const [bits, group] of [
    [4, 32],
    [8, 32],
    [2, 16],
    [4, -1],
  ] as const) {
    test(`MatMulNBits ${bits}-bit g${group} matches the fake-quant model in onnxruntime`, async () => {
      const m = await loadModel(storiesModel);
      const results = quantizeAll(m, bits, group);
      const nbits = exportModel(m, results, { format: 'matmulnbits' });
      const fake = exportModel(m, results, { format: 'fake' });
      assert.ok(
        nbits.layers.every((l) => l.written === 'matmulnbits' && !l.note),
        JSON.stringify(nbits.layers.find((l) => l.note)),
      );
      const back = parseModel(nbits.bytes, 'nbits.onnx');
      assert.equal(back.graph.node.filter((n) => n.opType === 'MatMulNBits').length, 36);
      assert.ok(back.proto.opsetImport.some((o) => o.domain === 'com.microsoft' && o.version === 1));
      // Ragged K = 172 (w2) and no leftover fp32 copy of the weights.
      const w2 = back.graph.node.find((n) => n.opType === 'MatMulNBits' && n.input[1] === 'layers.0.w2')!;
      assert.equal(w2.attribute.find((a) => a.name === 'K')!.i, 172);
      assert.equal(back.graph.initializer.filter((t) => t.name === 'layers.0.w2').length, 1);
      assert.equal(back.graph.initializer.find((t) => t.name === 'layers.0.w2')!.dataType, 2);
      const zpInputs = back.graph.node.filter((n) => n.opType === 'MatMulNBits' && n.input.length === 4).length;
      assert.ok(zpInputs > 0, 'asymmetric RTN needs zero points');
      const a = await runModel(nbits.bytes, feeds);
      const b = await runModel(fake.bytes, feeds);
      const ref = await runModel(storiesModel, feeds);
      const err = relErr(a, b);
      assert.ok(err < 1e-5, `MatMulNBits vs fake: relative error ${err}`);
      assert.ok(relErr(b, ref) > 1e-6, 'quantization must change the logits');
      assert.ok(nbits.bytes.length < fake.bytes.length * (bits === 8 ? 0.7 : 0.5), `${nbits.bytes.length} vs ${fake.bytes.length}`);
    });
  }

  test('QDQ: blocked uint4 (opset upgraded to 21) and per-channel uint8 (opset kept) run in onnxruntime', async () => {
    const m = await loadModel(storiesModel);
    for (const [bits, group, opset] of [
      [4, 32, 21],
      [8, -1, 14],
    ] as const) {
      const results = quantizeAll(m, bits, group);
      const qdq = exportModel(m, results, { format: 'qdq' });
      assert.equal(qdq.opset, opset);
      assert.ok(
        qdq.layers.every((l) => l.written === 'qdq'),
        JSON.stringify(qdq.layers[0]),
      );
      const fake = exportModel(m, results, { format: 'fake' });
      const a = await runModel(qdq.bytes, feeds);
      const b = await runModel(fake.bytes, feeds);
      assert.ok(relErr(a, b) < 1e-5, `QDQ ${bits}-bit vs fake: ${relErr(a, b)}`);
      assert.ok(qdq.bytes.length < fake.bytes.length);
      assert.equal(parseModel(qdq.bytes, 'q').graph.node.filter((n) => n.opType === 'DequantizeLinear').length, 36);
    }
    assert.equal(m.opset, 14, 'the source model is not modified');
  });

  test('input-scale Mul and low-rank branch: logits = (x/s)·Dᵀ + ((x/s)·Rᵀ)·Lᵀ', async () => {
    const m = await loadModel(storiesModel);
    const x = m.layerInput('output');
    const xs = await runModel(m.withExtraOutputs([x]), feeds, x);
    const W = m.getWeight('output');
    const s = Float32Array.from({ length: 64 }, (_, i) => 0.5 + (i % 7) * 0.25);
    const rank = 3;
    const L = randn(512 * rank, 21).map((v) => v * 0.1);
    const R = randn(rank * 64, 22).map((v) => v * 0.1);
    const D = W.data.map((v, i) => v * s[i % 64]);
    for (const format of ['fake', 'matmulnbits'] as const) {
      const dq = format === 'fake' ? { dequant: D } : rtn(D, 512, 64, 4, 32);
      const out = exportModel(m, [{ layer: 'output', ...dq, inputScale: s, lowRank: { L, R, rank } }], { format });
      assert.equal(out.layers[0].written, format);
      const logits = await runModel(out.bytes, feeds, 'logits');
      const ref = new Float32Array(logits.length);
      for (let t = 0; t < xs.length / 64; t++) {
        const xr = Array.from({ length: 64 }, (_, i) => xs[t * 64 + i] / s[i]);
        const xR = Array.from({ length: rank }, (_, k) => xr.reduce((acc, v, i) => acc + v * R[k * 64 + i], 0));
        for (let o = 0; o < 512; o++) {
          let acc = 0;
          for (let i = 0; i < 64; i++) acc += xr[i] * dq.dequant[o * 64 + i];
          for (let k = 0; k < rank; k++) acc += xR[k] * L[o * rank + k];
          ref[o + t * 512] = acc;
        }
      }
      assert.ok(relErr(logits, ref) < 1e-5, `${format}: ${relErr(logits, ref)}`);
    }
    // Factors the engine rounded to fp16 are stored as fp16 + Cast: fewer bytes, the same logits.
    const L16 = roundToHalf(L),
      R16 = roundToHalf(R);
    const f32 = exportModel(m, [{ layer: 'output', dequant: D, lowRank: { L: L16.map((v) => v + 1e-6), R: R16, rank } }], {
      format: 'fake',
    });
    const f16 = exportModel(m, [{ layer: 'output', dequant: D, lowRank: { L: L16, R: R16, rank } }], { format: 'fake' });
    const g16 = parseModel(f16.bytes, 'f16').graph;
    assert.equal(g16.node.filter((n) => n.opType === 'Cast' && (n.name ?? '').includes('lowbit')).length, 2);
    assert.equal(g16.initializer.filter((t) => t.name.includes('lowbit') && t.dataType === DT.FLOAT16).length, 2);
    assert.equal(
      parseModel(f32.bytes, 'f32').graph.initializer.filter((t) => t.dataType === DT.FLOAT16).length,
      1,
      'only R is fp16-exact there',
    );
    assert.ok(f16.bytes.length < f32.bytes.length);
    const plain = exportModel(m, [{ layer: 'output', dequant: D }], { format: 'fake' });
    const base = await runModel(plain.bytes, feeds, 'logits');
    const withLr = await runModel(f16.bytes, feeds, 'logits');
    const ref16 = new Float32Array(base.length);
    for (let t = 0; t < xs.length / 64; t++) {
      const xR = Array.from({ length: rank }, (_, k) =>
        Array.from({ length: 64 }, (_, i) => xs[t * 64 + i] * R16[k * 64 + i]).reduce((a, b) => a + b, 0),
      );
      for (let o = 0; o < 512; o++) {
        let acc = base[o + t * 512];
        for (let k = 0; k < rank; k++) acc += xR[k] * L16[o * rank + k];
        ref16[o + t * 512] = acc;
      }
    }
    assert.ok(relErr(withLr, ref16) < 1e-5, `fp16 factors: ${relErr(withLr, ref16)}`);
  });

  test('unsupported requests fall back to fake-quant with a note; bad results are refused', async () => {
    const m = await loadModel(storiesModel);
    const w = m.getWeight('layers.0.w1');
    const g24 = rtn(w.data, w.rows, w.cols, 4, 24);
    const r = exportModel(
      m,
      [
        { layer: 'layers.0.w1', ...g24 },
        { layer: 'layers.0.w2', dequant: m.getWeight('layers.0.w2').data },
      ],
      { format: 'matmulnbits' },
    );
    assert.deepEqual(
      r.layers.map((l) => l.written),
      ['fake', 'fake'],
    );
    assert.match(r.layers[0].note!, /power-of-2 group size/);
    assert.match(r.layers[1].note!, /no integer codes/);
    await runModel(r.bytes, feeds);
    const bad = { ...g24, dequant: g24.dequant.map((v) => v + 0.5) };
    assert.throws(
      () => exportModel(m, [{ layer: 'layers.0.w1', ...bad }], { format: 'matmulnbits' }),
      /layer 'layers\.0\.w1': codes\/scales\/zeros give/,
    );
    assert.throws(() => exportModel(m, [{ layer: 'layers.0.w1', dequant: new Float32Array(5) }], { format: 'fake' }), /expected 172×64/);
    assert.throws(
      () => exportModel(m, [{ layer: 'tok_embeddings', dequant: new Float32Array(5) }], { format: 'fake' }),
      /layer 'tok_embeddings': dequantized weight has 5 values, expected 512×64/,
    );
    assert.throws(() => exportModel(m, [{ layer: 'nope', dequant: new Float32Array(5) }], { format: 'fake' }), /no layer named 'nope'/);
  });
});

describe('export of an OCR model (Constant-node weights, Conv)', () => {
  test('Conv layers: fake-quant runs; QDQ upgrades opset 9 to 13 and matches it', async () => {
    const path = join(ocrDir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const m = await loadModel(path);
    const convs = m.layers.filter((l) => l.quantizable && l.op === 'Conv');
    const results = convs.map((l) => {
      const w = m.getWeight(l.name);
      return { layer: l.name, ...rtn(w.data, w.rows, w.cols, 8, -1) };
    });
    const x = new ort.Tensor('float32', randn(3 * 48 * 192, 4), [1, 3, 48, 192]);
    const ref = await runModel(path, { x });
    const fake = exportModel(m, results, { format: 'fake' });
    const qdq = exportModel(m, results, { format: 'qdq' });
    assert.ok(
      qdq.layers.every((l) => l.written === 'qdq' && !l.note),
      JSON.stringify(qdq.layers.find((l) => l.note)),
    );
    assert.equal(qdq.opset, 13);
    const a = await runModel(fake.bytes, { x });
    assert.ok(relErr(await runModel(qdq.bytes, { x }), a) < 1e-5, 'QDQ vs fake');
    assert.ok(relErr(a, ref) < 0.05, `8-bit conv model output error ${relErr(a, ref)}`);
    // The Constant nodes that held the replaced weights are gone (no duplicate copies).
    const back = parseModel(fake.bytes, 'f');
    assert.equal(back.graph.node.filter((n) => n.opType === 'Constant' && convs.some((c) => c.name === n.output[0])).length, 0);
    assert.ok(Math.abs(fake.bytes.length - statSync(path).size) < statSync(path).size * 0.05);
    assert.equal(readFileSync(path).length, statSync(path).size);
  });

  test('Conv input scale (Mul on [1,C,1,1]) and low-rank folded into the weight reproduce the model', async () => {
    const path = join(ocrDir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
    const m = await loadModel(path);
    const conv = m.layers.find((l) => l.op === 'Conv' && l.quantizable && l.dims[2] === 3 && l.dims[1] > 1)!;
    const w = m.getWeight(conv.name);
    const khw = conv.dims[2] * conv.dims[3];
    const C = conv.dims[1];
    const s = Float32Array.from({ length: C }, (_, c) => 0.5 + (c % 5) * 0.3);
    const rank = 2;
    const L = randn(w.rows * rank, 31).map((v) => v * 0.05);
    const R = randn(rank * w.cols, 32).map((v) => v * 0.05);
    const dequant = w.data.map((v, i) => {
      const o = Math.floor(i / w.cols);
      const col = i % w.cols;
      let lr = 0;
      for (let k = 0; k < rank; k++) lr += L[o * rank + k] * R[k * w.cols + col];
      return v * s[Math.floor(col / khw)] - lr;
    });
    const r = exportModel(m, [{ layer: conv.name, dequant, inputScale: s, lowRank: { L, R, rank } }], { format: 'fake' });
    assert.match(r.layers[0].note!, /folded into the weight/);
    const x = new ort.Tensor('float32', randn(3 * 48 * 192, 4), [1, 3, 48, 192]);
    const ref = await runModel(path, { x });
    assert.ok(relErr(await runModel(r.bytes, { x }), ref) < 1e-5);
    assert.throws(
      () => exportModel(m, [{ layer: conv.name, dequant, inputScale: s.subarray(1) }], { format: 'fake' }),
      /expected \d+ \(one per input channel\)/,
    );
  });
});
