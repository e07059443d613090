/**
 * A model too big to duplicate in memory, end to end: 384 MiB of MatMul weights in an external data
 * file, one layer RTN-quantized (4-bit MatMulNBits), exported with external data by streaming, loaded
 * back by onnxruntime-node from its path through the engine's `openSession`, and checked against a
 * float64 reference. Memory during export is sampled: the streaming path copies tensor by tensor
 * through one 16 MiB buffer, so its growth stays a fraction of the model (the old one-buffer export
 * needed the inlined weights plus the encoded copy: about 2× the model).
 * Memory: ≈ 1.2 GB peak (ORT holds the output's weights); temp files are removed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as ort from 'onnxruntime-node';
import { openSession } from '../../../../engine/evaluate/ortSession';
import { exportModelProto } from '../../../../engine/export/exportModel';
import type { QuantizedWeightLike } from '../../../../engine/export/types';
import { externalDataPath, writeModelStreaming } from '../../../../engine/export/writeStreaming';
import { loadModel } from '../../../../engine/onnx/model';
import { decodeModel, encodeModel, tensorTypeBytes, type ModelProto, type TensorProto } from '../../../../engine/onnx/onnxProto';
import { DT } from '../../../../engine/onnx/tensor';
import { externalFloatTensor } from '../../../unit/engine/onnx/tinyModels';
import { lcg } from '../../../fixtures/lcg';

const D = 4096,
  LAYERS = 6; // 6 × 4096² float32 = 384 MiB
const LAYER_BYTES = D * D * 4,
  MODEL_BYTES = LAYERS * LAYER_BYTES;
const dir = mkdtempSync(join(tmpdir(), 'lowbit-big-'));
// A collection before the baseline, so that garbage of the set-up phase cannot hide export's growth.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Layer i's weight [D in, D out] (as MatMul stores it), uniform in ±1/√D. */
function weight(i: number): Float32Array {
  const next = lcg(1000 + i);
  const s = 2 / Math.sqrt(D);
  const w = new Float32Array(D * D);
  for (let j = 0; j < w.length; j++) w[j] = (next() - 0.5) * s;
  return w;
}

/** x[D] · w[D, D] in float64. */
function matvec(x: Float64Array, w: Float32Array): Float64Array {
  const y = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    const xi = x[i],
      row = i * D;
    for (let o = 0; o < D; o++) y[o] += xi * w[row + o];
  }
  return y;
}

/** 4-bit asymmetric RTN in groups of 32 along the input, of W [out, in]: codes, scales, zeros and ŵ. */
function rtn4(w: Float32Array, rows: number, cols: number): { q: QuantizedWeightLike; dequant: Float32Array } {
  const g = 32,
    nG = cols / g;
  const codes = new Uint8Array(rows * cols),
    scales = new Float32Array(rows * nG),
    zeros = new Uint8Array(rows * nG),
    dequant = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < nG; k++) {
      let lo = 0,
        hi = 0;
      for (let c = k * g; c < (k + 1) * g; c++) {
        lo = Math.min(lo, w[r * cols + c]);
        hi = Math.max(hi, w[r * cols + c]);
      }
      const s = Math.fround((hi - lo) / 15 || 1),
        z = Math.min(15, Math.max(0, Math.round(-lo / s)));
      scales[r * nG + k] = s;
      zeros[r * nG + k] = z;
      for (let c = k * g; c < (k + 1) * g; c++) {
        const q = Math.min(15, Math.max(0, Math.round(w[r * cols + c] / s) + z));
        codes[r * cols + c] = q;
        dequant[r * cols + c] = (q - z) * s;
      }
    }
  return { q: { bits: 4, groupSize: g, rows, cols, codes, scales, zeros }, dequant };
}

/** Writes the input model (weights in model.onnx.data) and returns the float64 reference for `x` with layer 0 replaced by `w0`. */
function writeInput(x: Float64Array): { path: string; fp: Float64Array } {
  const dataName = 'model.onnx.data';
  const fd = openSync(join(dir, dataName), 'w');
  const inits: TensorProto[] = [];
  let h = x;
  try {
    for (let i = 0; i < LAYERS; i++) {
      const w = weight(i);
      writeSync(fd, new Uint8Array(w.buffer), 0, LAYER_BYTES, i * LAYER_BYTES);
      h = matvec(h, w);
      inits.push(externalFloatTensor(`W${i}`, [D, D], dataName, i * LAYER_BYTES));
    }
  } finally {
    closeSync(fd);
  }
  const vi = (name: string) => ({
    name,
    typeRaw: tensorTypeBytes(DT.FLOAT, [1, D]),
    type: { elemType: DT.FLOAT, dims: [1, D] },
    unknown: [],
  });
  const proto: ModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 'lowbit-test',
    unknown: [],
    graph: {
      name: 'big',
      initializer: inits,
      input: [vi('X')],
      output: [vi(`H${LAYERS}`)],
      valueInfo: [],
      unknown: [],
      node: inits.map((t, i) => ({
        opType: 'MatMul',
        input: [i ? `H${i}` : 'X', t.name],
        output: [`H${i + 1}`],
        name: `mm${i}`,
        attribute: [],
        unknown: [],
      })),
    },
  };
  const path = join(dir, 'model.onnx');
  writeFileSync(path, encodeModel(proto));
  return { path, fp: h };
}

/** The input model, layer W0 RTN-quantized, and the float64 outputs with (ref) and without (fp) quantization. */
async function prepare() {
  const next = lcg(7);
  const x = Float64Array.from({ length: D }, () => next() - 0.5);
  const { path: input, fp } = writeInput(x);
  const model = await loadModel(input);
  assert.ok(statSync(input).size < 4096, 'the input keeps its weights external');
  // Quantize layer W0 (W [out, in] = stored transposed).
  const w0 = model.getWeight('W0');
  const { q, dequant } = rtn4(w0.data, w0.rows, w0.cols);
  // Reference: layer 0 with ŵ, the others in full precision.
  const w0hat = new Float32Array(D * D);
  for (let o = 0; o < D; o++) for (let i = 0; i < D; i++) w0hat[i * D + o] = dequant[o * D + i];
  let ref = matvec(x, w0hat);
  for (let i = 1; i < LAYERS; i++) ref = matvec(ref, weight(i));
  return { x, input, fp, ref, model, q, dequant };
}

describe('export: a model with hundreds of MB of external data, bounded memory', () => {
  test('RTN layer → streaming export with external data → onnxruntime from the path matches the reference; memory stays bounded', async () => {
    const { x, input, fp, ref, model, q, dequant } = await prepare();
    const inputData = statSync(join(dir, 'model.onnx.data'));
    gc();

    // Export, sampling memory at every tensor and on a timer.
    const out = join(dir, 'out', 'model-w4.onnx');
    const base = process.memoryUsage();
    let peakRss = base.rss,
      peakAb = base.arrayBuffers;
    const sample = () => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakAb = Math.max(peakAb, m.arrayBuffers);
    };
    const timer = setInterval(sample, 2);
    let r;
    try {
      const e = exportModelProto(model, [{ layer: 'W0', dequant, q }], { format: 'matmulnbits' });
      // Stored: 4-bit codes + fp32 scales + 4-bit zero points of the D×D weight (D/32 groups per row).
      assert.deepEqual(e.layers, [
        { layer: 'W0', written: 'matmulnbits', storedBytes: (D * D) / 2 + D * (D / 32) * 4 + (D * (D / 32)) / 2 },
      ]);
      sample();
      r = await writeModelStreaming(e.proto, out, {
        inputPath: input,
        src: model.src,
        label: model.path,
        externalData: 'always',
        onTensor: sample,
      });
      sample();
    } finally {
      clearInterval(timer);
    }
    const growth = { rss: peakRss - base.rss, arrayBuffers: peakAb - base.arrayBuffers };
    console.log(
      `export of ${MODEL_BYTES / 2 ** 20} MiB: peak growth rss ${(growth.rss / 2 ** 20).toFixed(1)} MiB, arrayBuffers ${(growth.arrayBuffers / 2 ** 20).toFixed(1)} MiB`,
    );
    // The output is 5 float layers copied from the input's file plus one 4-bit layer (~1/7 the size).
    // Streaming holds one 16 MiB copy buffer plus the skeleton: allow 1/4 of the model in buffers and
    // 1/2 in RSS (V8 heap noise). Encoding to one buffer would need ≥ 2× the model.
    assert.ok(growth.arrayBuffers < 0.25 * MODEL_BYTES, `arrayBuffers grew ${growth.arrayBuffers} bytes`);
    assert.ok(growth.rss < 0.5 * MODEL_BYTES, `rss grew ${growth.rss} bytes`);

    // Files: a small .onnx next to its .data; the input untouched.
    assert.equal(r.dataPath, externalDataPath(out));
    assert.equal(r.externalTensors, 5 + 3); // 5 float weights + W0's packed codes, scales and zero points
    assert.ok(statSync(out).size < 64 * 1024, `.onnx is ${statSync(out).size} bytes`);
    assert.ok(statSync(r.dataPath!).size > 5 * LAYER_BYTES && statSync(r.dataPath!).size < 5.3 * LAYER_BYTES);
    assert.equal(statSync(join(dir, 'model.onnx.data')).mtimeMs, inputData.mtimeMs);
    const g = decodeModel(readFileSync(out), out).graph!;
    for (const t of g.initializer.filter((t) => t.dataLocation === 1)) {
      const kv = Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
      assert.equal(kv.location, 'model-w4.onnx.data');
      if (Number(kv.length) >= 2 ** 20) assert.equal(Number(kv.offset) % 4096, 0, `${t.name} at ${kv.offset}`);
    }

    // Evaluation opens the output from its path, so the external data resolves.
    const s = await openSession(out, 2, out);
    try {
      const y = (await s.run({ X: new ort.Tensor('float32', Float32Array.from(x), [1, D]) }))[`H${LAYERS}`].data as Float32Array;
      let err = 0,
        norm = 0,
        errFp = 0;
      for (let i = 0; i < D; i++) {
        err = Math.max(err, Math.abs(y[i] - ref[i]));
        norm = Math.max(norm, Math.abs(ref[i]));
        errFp = Math.max(errFp, Math.abs(ref[i] - fp[i]));
      }
      assert.ok(err < 1e-4 * norm, `max |y − ref| ${err} vs max |ref| ${norm}`);
      assert.ok(errFp > 100 * err, 'the quantized layer really is in the output');
    } finally {
      await s.release();
    }
  });
});
