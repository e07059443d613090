// Binarization and low rank on real weights: stories260K (../shared/models, skipped if absent).
// Checks method-level invariants on trained layers with hidden size 172 (not a multiple of 32).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { billm, decodeBillm, flrq, pbllm } from '../../../native/ts/binaryLowRank';
import { loadModel } from '../../../engine/onnx/model';
import { centeredLcg } from '../../fixtures/lcg';

const shared = resolve(__dirname, '../../..', '..', 'shared');
const modelPath = join(shared, 'models/stories260K/model.onnx');
const skip = existsSync(modelPath) ? false : `stories260K not found at ${modelPath}`;

/** H = 2XXᵀ/T for correlated synthetic activations (cols×cols). */
function hessian(cols: number, T: number): Float64Array {
  const r = centeredLcg(cols),
    X = new Float64Array(T * cols),
    H = new Float64Array(cols * cols);
  for (let t = 0; t < T; t++) {
    let p = 0;
    for (let c = 0; c < cols; c++) {
      p = 0.5 * p + r();
      X[t * cols + c] = p;
    }
  }
  for (let t = 0; t < T; t++)
    for (let i = 0; i < cols; i++) {
      const xi = X[t * cols + i]!;
      for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 * xi * X[t * cols + j]!) / T;
    }
  return H;
}
function trErr(w: Float32Array, q: ArrayLike<number>, H: Float64Array, rows: number, cols: number): number {
  let s = 0;
  for (let x = 0; x < rows; x++)
    for (let i = 0; i < cols; i++) {
      const di = w[x * cols + i]! - q[x * cols + i]!;
      let t = 0;
      for (let j = 0; j < cols; j++) t += H[i * cols + j]! * (w[x * cols + j]! - q[x * cols + j]!);
      s += di * t;
    }
  return s;
}

describe('stories260K layers', { skip }, () => {
  test('BiLLM beats plain per-row sign binarization; PB-LLM at 1.7 bits beats BiLLM', async () => {
    const model = await loadModel(modelPath);
    const { data: w, rows, cols } = model.getWeight('layers.0.w2');
    assert.equal(cols, 172);
    const H = hessian(cols, 256);
    const b = await billm(w, rows, cols, H, { layer: 'layers.0.w2' });
    assert.deepEqual(decodeBillm(b.stored, rows, cols), b.dequant);
    assert.ok(b.details.bits_claimed > 1 && b.details.bits_claimed < 1.6, `claimed ${b.details.bits_claimed}`);
    assert.ok(b.details.bits_stored > 2, 'honest storage counts masks and scales');
    const naive = new Float32Array(rows * cols);
    for (let x = 0; x < rows; x++) {
      const row = w.subarray(x * cols, (x + 1) * cols),
        a = row.reduce((s, v) => s + Math.abs(v), 0) / cols;
      row.forEach((v, j) => (naive[x * cols + j] = v >= 0 ? a : -a));
    }
    const eB = trErr(w, b.dequant, H, rows, cols),
      eN = trErr(w, naive, H, rows, cols);
    assert.ok(eB < eN, `BiLLM ${eB} vs sign ${eN}`);
    const p = await pbllm(w, rows, cols, H, { lowFrac: 0.9 });
    assert.ok(trErr(w, p.dequant, H, rows, cols) < eB);
  });

  test('FLRQ on the output projection: low rank does not hurt and stays in budget', async () => {
    const model = await loadModel(modelPath);
    const { data: w, rows, cols } = model.getWeight('output');
    const res = await flrq(w, rows, cols, hessian(cols, 256), null, { bits: 3, budget: 0.2, blcEpochs: 1 });
    assert.ok(res.details.rel_error_after <= res.details.rel_error_before + 1e-12);
    assert.ok(res.details.storage_overhead <= 0.2 + 1e-12);
    assert.equal(res.codes.length, rows * cols);
  });
});
