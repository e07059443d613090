/**
 * Float64 GPTAQ reference written from the paper (Li et al. 2025, "GPTAQ: Efficient Finetuning-Free
 * Quantization for Asymmetric Calibration", Alg. 1) and the authors' fasterquant: per row, column by
 * column, with the block structure spelled out (the asymmetric term uses a column's value before
 * rounding inside its block and its rounded value across blocks, as the authors' code does).
 * No act-order or static groups (the solver's own tests check those by the D = 0 identity with GPTQ).
 */
import { cholesky, dampedHessian, findParams, quantCode, spdInverse, type RefParams } from './linearReference';

/** D = 2/N·Σ_t (x_t − x̃_t)x̃_tᵀ (tokens×n row-major inputs), D[a][b] = Σ Δx_a·x̃_b. */
export function crossRef(x: Float32Array, xq: Float32Array, n: number): Float64Array {
  const T = x.length / n,
    d = new Float64Array(n * n);
  for (let t = 0; t < T; t++)
    for (let a = 0; a < n; a++) {
      const dx = x[t * n + a]! - xq[t * n + a]!;
      for (let b = 0; b < n; b++) d[a * n + b] += dx * xq[t * n + b]!;
    }
  for (let i = 0; i < n * n; i++) d[i] = (2 * d[i]!) / T;
  return d;
}

export interface GptaqRefOptions {
  bits: number;
  groupSize: number;
  sym: boolean;
  damp: number;
  alpha: number;
  blockSize: number;
}

/** Float64 GPTAQ: codes and dequantized values (rows×n). */
export function gptaqRef(
  w: Float32Array,
  rows: number,
  n: number,
  H: Float64Array,
  D: Float64Array,
  o: GptaqRefOptions,
): { codes: Uint8Array; dequant: Float32Array } {
  const maxq = 2 ** o.bits - 1;
  const g = o.groupSize <= 0 || o.groupSize >= n ? n : o.groupSize;
  const grouped = g < n;
  const hinv = spdInverse(dampedHessian(H, n, o.damp), n);
  const L = cholesky(hinv, n); // H⁻¹ = L·Lᵀ, U = Lᵀ upper with H⁻¹ = UᵀU
  const U = (i: number, j: number): number => L[j * n + i]!;
  // P = α·triu₁(D·Uᵀ)·U
  const T = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = i + 1; k < n; k++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += D[i * n + j]! * U(k, j);
      T[i * n + k] = s;
    }
  const P = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = i + 1; k <= j; k++) s += T[i * n + k]! * U(k, j);
      P[i * n + j] = o.alpha * s;
    }
  const out = { codes: new Uint8Array(rows * n), dequant: new Float32Array(rows * n) };
  for (let r = 0; r < rows; r++) {
    const wr = Array.from(w.subarray(r * n, r * n + n), Number);
    const rowP = findParams(wr, o.bits, o.sym);
    let p: RefParams = rowP;
    for (let i1 = 0; i1 < n;) {
      let i2 = Math.min(n, i1 + o.blockSize);
      if (grouped) i2 = Math.min(i2, (Math.floor(i1 / g) + 1) * g);
      const err: number[] = [],
        q: number[] = [];
      for (let j = i1; j < i2; j++) {
        if (grouped && j % g === 0) p = findParams(wr.slice(j, Math.min(n, j + g)), o.bits, o.sym);
        const x = wr[j]!;
        const code = quantCode(x, p, maxq);
        const deq = Math.fround(p.scale * (code - p.zero));
        out.codes[r * n + j] = code;
        out.dequant[r * n + j] = deq;
        const e = (x - deq) / U(j, j);
        err.push(e);
        q.push(deq);
        for (let k = j + 1; k < i2; k++) wr[k] = wr[k]! - (e * U(j, k) - x * P[j * n + k]!);
      }
      for (let k = i2; k < n; k++) {
        let s = 0;
        for (let j = i1; j < i2; j++) s += err[j - i1]! * U(j, k) - q[j - i1]! * P[j * n + k]!;
        wr[k] = wr[k]! - s;
      }
      i1 = i2;
    }
  }
  return out;
}
