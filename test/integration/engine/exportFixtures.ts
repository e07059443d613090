/** Helpers for the export tests: an RTN quantizer written from docs/algorithms.md §1 (float64), ORT runs. */
import * as ort from 'onnxruntime-node';
import type { QuantizedWeightLike } from '../../../engine/export/types';

/** Asymmetric min-max RTN per (row, group): s = (max−min)/(2^b−1), z = round(−min/s), q = clamp(round(w/s)+z). */
export function rtn(
  w: Float32Array,
  rows: number,
  cols: number,
  bits: number,
  groupSize: number,
): { q: QuantizedWeightLike; dequant: Float32Array } {
  const group = groupSize <= 0 ? cols : groupSize;
  const nGroups = Math.ceil(cols / group);
  const maxq = 2 ** bits - 1;
  const codes = new Uint8Array(rows * cols);
  const scales = new Float32Array(rows * nGroups);
  const zeros = new Uint8Array(rows * nGroups);
  const dequant = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nGroups; g++) {
      const c0 = g * group;
      const c1 = Math.min(cols, c0 + group);
      let lo = 0;
      let hi = 0;
      for (let c = c0; c < c1; c++) {
        lo = Math.min(lo, w[r * cols + c]);
        hi = Math.max(hi, w[r * cols + c]);
      }
      let s = Math.fround((hi - lo) / maxq);
      if (s === 0) s = 1;
      const z = Math.min(maxq, Math.max(0, Math.round(-lo / s)));
      scales[r * nGroups + g] = s;
      zeros[r * nGroups + g] = z;
      for (let c = c0; c < c1; c++) {
        const q = Math.min(maxq, Math.max(0, Math.round(w[r * cols + c] / s) + z));
        codes[r * cols + c] = q;
        dequant[r * cols + c] = (q - z) * s;
      }
    }
  }
  return { q: { bits, groupSize, rows, cols, codes, scales, zeros }, dequant };
}

export function tokens(b: number, s: number, seed = 11): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: b * s }, (_, i) => BigInt((i * 37 + seed) % 512)),
    [b, s],
  );
}

/** Runs a model and returns its first (or named) output. */
export async function runModel(
  model: Uint8Array | string,
  feeds: Record<string, ort.Tensor>,
  out?: string,
  exact = true,
): Promise<Float32Array> {
  const opts: ort.InferenceSession.SessionOptions = exact ? { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } } : {};
  const sess = typeof model === 'string' ? await ort.InferenceSession.create(model, opts) : await ort.InferenceSession.create(model, opts);
  const r = await sess.run(feeds);
  return r[out ?? sess.outputNames[0]].data as Float32Array;
}

/** ‖a − b‖ / ‖b‖. */
export function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
