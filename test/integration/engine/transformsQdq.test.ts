/** Activation QDQ (W8A8 / W4A8 / W6A6) and SmoothQuant folding on the real stories260K in onnxruntime-node. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { tokenStream } from '../../../engine/data/text';
import { loadModel, type OnnxModel } from '../../../engine/onnx';
import {
  foldInputScales,
  insertActivationQdq,
  scaleGroups,
  symmetricActivationQuant,
  type ActivationQuant,
} from '../../../engine/transforms';
import { EditState } from '../../../engine/transforms/editState';
import { relErr, runModel } from './exportFixtures';
import { skipNoShared, stories } from './sharedFixtures';

const SEQ = 64;

function windows(stream: number[], offset: number, count: number): ort.Tensor {
  const ids = BigInt64Array.from(stream.slice(offset, offset + count * SEQ), BigInt);
  return new ort.Tensor('int64', ids, [count, SEQ]);
}

/** Per-tensor max|x| and per-channel max|x| of every layer input over the calibration batch. */
async function calibrate(model: OnnxModel, feeds: Record<string, ort.Tensor>) {
  const names = model.layers.filter((l) => l.quantizable && !l.embedding).map((l) => l.input);
  const sess = await ort.InferenceSession.create(model.withExtraOutputs(names));
  const r = await sess.run(feeds);
  const tensorMax = new Map<string, number>();
  const channelMax = new Map<string, Float32Array>();
  for (const n of new Set(names)) {
    const t = r[n];
    const c = t.dims[t.dims.length - 1];
    const data = t.data as Float32Array;
    const ch = new Float32Array(c);
    let m = 0;
    for (let i = 0; i < data.length; i++) {
      const a = Math.abs(data[i]);
      if (a > ch[i % c]) ch[i % c] = a;
      if (a > m) m = a;
    }
    tensorMax.set(n, m);
    channelMax.set(n, ch);
  }
  return { tensorMax, channelMax };
}

/** Symmetric per-output-channel 8-bit fake quantization of every quantizable layer's weight. */
function fakeQuantWeights(model: OnnxModel, bits: number): OnnxModel {
  const st = new EditState(model);
  const qmax = 2 ** (bits - 1) - 1;
  for (const l of model.layers.filter((x) => x.quantizable && !x.embedding)) {
    const w = st.read(l.nodeRef, l.weightInput); // MatMul: [in, out]
    const [rows, cols] = w.dims;
    for (let o = 0; o < cols; o++) {
      let m = 0;
      for (let i = 0; i < rows; i++) m = Math.max(m, Math.abs(w.data[i * cols + o]));
      const s = m / qmax || 1;
      for (let i = 0; i < rows; i++) w.data[i * cols + o] = Math.max(-qmax, Math.min(qmax, Math.round(w.data[i * cols + o] / s))) * s;
    }
    st.write(l.nodeRef, l.weightInput, w, true);
  }
  return st.result();
}

function top1Agreement(a: Float32Array, b: Float32Array, vocab = 512): number {
  let same = 0;
  const n = a.length / vocab;
  for (let t = 0; t < n; t++) {
    let ia = 0;
    let ib = 0;
    for (let v = 1; v < vocab; v++) {
      if (a[t * vocab + v] > a[t * vocab + ia]) ia = v;
      if (b[t * vocab + v] > b[t * vocab + ib]) ib = v;
    }
    if (ia === ib) same++;
  }
  return same / n;
}

describe('transforms: activation QDQ on stories260K', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let calib: Awaited<ReturnType<typeof calibrate>>;
  let evalFeeds: Record<string, ort.Tensor>;
  let calibFeeds: Record<string, ort.Tensor>;
  let fp: Float32Array;
  const actQuant = (m: OnnxModel, bits: number, shrink = 1): Record<string, ActivationQuant> =>
    Object.fromEntries(
      m.layers
        .filter((l) => l.quantizable && !l.embedding)
        .map((l) => {
          const q = symmetricActivationQuant(calib.tensorMax.get(model.layerInput(l.name))!, bits);
          return [l.name, { ...q, scale: q.scale / shrink }];
        }),
    );

  before(async () => {
    model = await loadModel(stories.model);
    const stream = await tokenStream(stories.text, stories.tokenizer);
    calibFeeds = { input_ids: windows(stream, 0, 4) };
    calib = await calibrate(model, calibFeeds);
    evalFeeds = { input_ids: windows(stream, 8192, 2) };
    fp = await runModel(model.serialize(), evalFeeds, 'logits');
  });

  test('b-bit activations land exactly on the 2^b − 1 symmetric levels (Clip → int8 QDQ)', async () => {
    const q = { scale: 0.05, zeroPoint: 0, bits: 4, signed: true };
    const m = insertActivationQdq(model, { 'layers.0.wq': q, 'layers.0.wk': q, 'layers.0.wv': q });
    const dq = m.layerInput('layers.0.wq');
    assert.equal(m.layerInput('layers.0.wk'), dq, 'identical parameters share one QDQ');
    const sess = await ort.InferenceSession.create(m.withExtraOutputs([dq]));
    const data = (await sess.run(evalFeeds))[dq].data as Float32Array;
    const levels = new Set<number>();
    for (const v of data) {
      const k = Math.round(v / 0.05);
      assert.ok(Math.abs(v - k * 0.05) < 1e-6 && Math.abs(k) <= 7, `value ${v} is not on the 4-bit grid`);
      levels.add(k);
    }
    assert.ok(levels.has(7) && levels.has(-7) && levels.size > 8, `levels ${[...levels].sort((a, b) => a - b)}`);
  });

  test('W8A8 is close to FP; a deliberately tiny activation scale is clearly worse', async (t) => {
    const w8 = fakeQuantWeights(model, 8);
    const a8 = await runModel(insertActivationQdq(w8, actQuant(w8, 8)).serialize(), evalFeeds, 'logits');
    const eW8A8 = relErr(a8, fp);
    const tiny = await runModel(insertActivationQdq(w8, actQuant(w8, 8, 50)).serialize(), evalFeeds, 'logits');
    const eTiny = relErr(tiny, fp);
    const w4a8 = await runModel(insertActivationQdq(fakeQuantWeights(model, 4), actQuant(w8, 8)).serialize(), evalFeeds, 'logits');
    const w6 = fakeQuantWeights(model, 6);
    const w6a6 = await runModel(insertActivationQdq(w6, actQuant(w6, 6)).serialize(), evalFeeds, 'logits');
    const eW4A8 = relErr(w4a8, fp);
    const eW6A6 = relErr(w6a6, fp);
    t.diagnostic(
      `logits rel err vs FP: W8A8 ${eW8A8.toFixed(4)} (top-1 agree ${top1Agreement(a8, fp).toFixed(3)}), W6A6 ${eW6A6.toFixed(4)}, W4A8 ${eW4A8.toFixed(4)}, W8A8 tiny scale ${eTiny.toFixed(4)}`,
    );
    assert.ok(eW8A8 < 0.05, `W8A8 rel err ${eW8A8}`);
    assert.ok(top1Agreement(a8, fp) > 0.9);
    assert.ok(eTiny > 5 * eW8A8 && eTiny > 0.2, `tiny scale ${eTiny} vs ${eW8A8}`);
    assert.ok(eW6A6 > eW8A8 && eW4A8 > eW8A8, `W6A6 ${eW6A6}, W4A8 ${eW4A8} should be worse than W8A8 ${eW8A8}`);
  });

  test('SmoothQuant (α = 0.5): fold s = max|x|^α / max|W|^(1−α), then W8A8 — FP-equivalent before quantization', async (t) => {
    const alpha = 0.5;
    const groups = scaleGroups(model).map((g) => {
      const x = calib.channelMax.get(g.tensor)!;
      const wMax = new Float32Array(x.length);
      for (const name of g.layers) {
        const w = model.getWeight(name);
        for (let o = 0; o < w.rows; o++) for (let i = 0; i < w.cols; i++) wMax[i] = Math.max(wMax[i], Math.abs(w.data[o * w.cols + i]));
      }
      return {
        layers: g.layers,
        scale: Float32Array.from(x, (a, i) => Math.max(1e-5, a ** alpha / Math.max(1e-5, wMax[i]) ** (1 - alpha))),
      };
    });
    const smoothed = foldInputScales(model, groups).model;
    const eFold = relErr(await runModel(smoothed.serialize(), evalFeeds, 'logits'), fp);
    assert.ok(eFold < 1e-5, `smoothing alone must be exact (rel err ${eFold})`);
    const sCalib = await calibrate(smoothed, calibFeeds);
    const w8 = fakeQuantWeights(smoothed, 8);
    const quant = Object.fromEntries(
      w8.layers
        .filter((l) => l.quantizable && !l.embedding)
        .map((l) => [l.name, symmetricActivationQuant(sCalib.tensorMax.get(smoothed.layerInput(l.name))!, 8)]),
    );
    const e = relErr(await runModel(insertActivationQdq(w8, quant).serialize(), evalFeeds, 'logits'), fp);
    t.diagnostic(`SmoothQuant α=0.5 W8A8 logits rel err ${e.toFixed(4)}`);
    assert.ok(e < 0.1, `SmoothQuant W8A8 rel err ${e}`);
  });
});
