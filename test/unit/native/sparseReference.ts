/**
 * Float64 references for the pruning kernels, written from the papers (docs/algorithms.md §9):
 * SparseGPT column by column (Frantar & Alistarh 2023, Alg. 1: mask per block of columns by
 * w²/[H⁻¹]²_jj, OBS update e·U[j, j+1:] after each column, optional quantization in the same pass),
 * and the one-shot masks of Wanda (|W_ij|·‖X_j‖₂, per output row) and magnitude (|W|, per layer).
 */
import { cholesky, dampedHessian, findParams, quantCode, spdInverse, type RefParams } from './linearReference';

export type RefSparsity = { ratio: number } | { n: number; m: number };

/** keep[i] = 0 for the k smallest scores (ties by index), 1 otherwise. */
export function markSmallestRef(scores: number[], k: number): number[] {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  const keep = scores.map(() => 1);
  for (let i = 0; i < k; i++) keep[idx[i]!] = 0;
  return keep;
}

export interface SparseGptRefOptions {
  bits: number;
  groupSize: number;
  sym: boolean;
  damp: number;
  blockSize: number;
  sparsity: RefSparsity;
  /** false: survivors stay float (pure pruning). */
  quantize: boolean;
}

/** Column-sequential SparseGPT: the same block partition as the solver (blocks also cut at group ends). */
export function sparseGptRef(
  w: Float32Array,
  rows: number,
  n: number,
  H: Float64Array,
  o: SparseGptRefOptions,
): { codes: Uint8Array; dequant: Float32Array; keep: Uint8Array; loss: number } {
  const maxq = 2 ** o.bits - 1;
  const g = o.groupSize <= 0 || o.groupSize >= n ? n : o.groupSize;
  const grouped = g < n;
  const W = Float64Array.from(w);
  const rowP: RefParams[] = [];
  if (!grouped) for (let r = 0; r < rows; r++) rowP.push(findParams(W.subarray(r * n, r * n + n), o.bits, o.sym));
  for (let j = 0; j < n; j++) if (H[j * n + j] === 0) for (let r = 0; r < rows; r++) W[r * n + j] = 0;
  const hinv = spdInverse(dampedHessian(H, n, o.damp), n);
  const L2 = cholesky(hinv, n);
  const U = (i: number, j: number): number => L2[j * n + i]!;
  const keep = new Uint8Array(rows * n).fill(1);
  const codes = new Uint8Array(rows * n);
  const dequant = new Float32Array(rows * n);
  const gp: RefParams[] = new Array(rows);
  let loss = 0;
  let i2 = 0;
  for (let j = 0; j < n; j++) {
    if (j === i2) {
      const i1 = j;
      i2 = Math.min(n, i1 + o.blockSize);
      if (grouped) i2 = Math.min(i2, (Math.floor(i1 / g) + 1) * g);
      if ('ratio' in o.sparsity) {
        const scores: number[] = [];
        for (let r = 0; r < rows; r++) for (let k = i1; k < i2; k++) scores.push(W[r * n + k]! ** 2 / U(k, k) ** 2);
        const kp = markSmallestRef(scores, Math.floor(o.sparsity.ratio * rows * (i2 - i1)));
        for (let r = 0; r < rows; r++) for (let k = i1; k < i2; k++) keep[r * n + k] = kp[r * (i2 - i1) + (k - i1)]!;
      }
    }
    for (let r = 0; r < rows; r++) {
      if ('m' in o.sparsity && j % o.sparsity.m === 0) {
        const scores: number[] = [];
        for (let t = 0; t < o.sparsity.m; t++) scores.push(W[r * n + j + t]! ** 2 / U(j + t, j + t) ** 2);
        markSmallestRef(scores, o.sparsity.n).forEach((v, t) => (keep[r * n + j + t] = v));
      }
      if (grouped && j % g === 0) gp[r] = findParams(W.subarray(r * n + j, r * n + Math.min(n, j + g)), o.bits, o.sym);
      const p = grouped ? gp[r]! : rowP[r]!;
      const x = W[r * n + j]!;
      let q = p.zero;
      let deq = 0;
      if (keep[r * n + j]) {
        if (o.quantize) {
          q = quantCode(x, p, maxq);
          deq = Math.fround(p.scale * (q - p.zero));
        } else deq = x;
      }
      const d = U(j, j);
      const e = (x - deq) / d;
      loss += (x - deq) ** 2 / (2 * d * d);
      codes[r * n + j] = q;
      dequant[r * n + j] = o.quantize ? deq : Math.fround(deq);
      for (let k = j + 1; k < n; k++) W[r * n + k] = W[r * n + k]! - e * U(j, k);
    }
  }
  return { codes, dequant, keep, loss };
}

/** One-shot mask: |W_ij|·s_j (s = 1: magnitude) ranked per row, per layer, or per row within each M columns. */
export function oneShotMaskRef(
  w: Float32Array,
  rows: number,
  n: number,
  colScale: Float64Array | null,
  sp: RefSparsity,
  scope: 'row' | 'layer',
): Uint8Array {
  const s = (r: number, j: number) => Math.abs(w[r * n + j]!) * (colScale ? colScale[j]! : 1);
  const keep = new Uint8Array(rows * n);
  if ('m' in sp) {
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < n; j += sp.m)
        markSmallestRef(
          Array.from({ length: sp.m }, (_, t) => s(r, j + t)),
          sp.n,
        ).forEach((v, t) => (keep[r * n + j + t] = v));
  } else if (scope === 'row') {
    for (let r = 0; r < rows; r++)
      markSmallestRef(
        Array.from({ length: n }, (_, j) => s(r, j)),
        Math.floor(sp.ratio * n),
      ).forEach((v, j) => (keep[r * n + j] = v));
  } else {
    const all: number[] = [];
    for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) all.push(s(r, j));
    markSmallestRef(all, Math.floor(sp.ratio * rows * n)).forEach((v, i) => (keep[i] = v));
  }
  return keep;
}
