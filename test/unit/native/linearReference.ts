/**
 * Float64 TypeScript references for the linear-method kernels, written from docs/algorithms.md §1–2
 * (gptq quant.py find_params / quantize, gptq.py without the lazy-update optimisation).
 */
import { seededRandom } from '../../../engine/calibrate/calibrationData';

/** Half-to-even rounding (torch.round). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

export interface RefParams {
  scale: number;
  zero: number;
}

function make(xmin: number, xmax: number, maxq: number, sym: boolean): RefParams {
  const scale = Math.fround((xmax - xmin) / maxq);
  if (sym) return { scale, zero: (maxq + 1) / 2 };
  const z = roundHalfEven(-xmin / scale);
  return { scale, zero: Math.min(maxq, Math.max(0, z)) };
}

/** Quantizes one value to its code. */
export function quantCode(w: number, p: RefParams, maxq: number): number {
  return Math.min(maxq, Math.max(0, roundHalfEven(w / p.scale) + p.zero));
}

/** find_params over `vals` (optionally with the MSE clip search: norm 2.4, grid 100, maxshrink 0.8). */
export function findParams(vals: ArrayLike<number>, bits: number, sym: boolean, mse = false): RefParams {
  const maxq = 2 ** bits - 1;
  let xmin = 0,
    xmax = 0;
  for (let i = 0; i < vals.length; i++) {
    xmin = Math.min(xmin, vals[i]!);
    xmax = Math.max(xmax, vals[i]!);
  }
  if (sym) {
    xmax = Math.max(Math.abs(xmin), xmax);
    if (xmin < 0) xmin = -xmax;
  }
  if (xmin === 0 && xmax === 0) {
    xmin = -1;
    xmax = 1;
  }
  let best = make(xmin, xmax, maxq, sym);
  if (!mse) return best;
  let bestErr = Infinity;
  for (let i = 0; i < 80; i++) {
    const p = 1 - i / 100;
    const c = make(p * xmin, p * xmax, maxq, sym);
    let err = 0;
    for (let k = 0; k < vals.length; k++) err += Math.pow(Math.abs(c.scale * (quantCode(vals[k]!, c, maxq) - c.zero) - vals[k]!), 2.4);
    if (err < bestErr) {
      bestErr = err;
      best = c;
    }
  }
  return best;
}

export interface RefQuant {
  codes: Uint8Array;
  dequant: Float32Array;
  scales: Float32Array;
  zeros: Uint8Array;
  groupSize: number;
}

/** RTN reference: per row (groupSize −1) or per group, ragged last group over its real columns. */
export function rtnRef(
  w: ArrayLike<number>,
  rows: number,
  cols: number,
  bits: number,
  groupSize: number,
  sym: boolean,
  mse = false,
): RefQuant {
  const g = groupSize <= 0 || groupSize >= cols ? cols : groupSize;
  const ng = Math.ceil(cols / g),
    maxq = 2 ** bits - 1;
  const out: RefQuant = {
    codes: new Uint8Array(rows * cols),
    dequant: new Float32Array(rows * cols),
    scales: new Float32Array(rows * ng),
    zeros: new Uint8Array(rows * ng),
    groupSize: g,
  };
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < ng; k++) {
      const c0 = k * g,
        c1 = Math.min(cols, c0 + g);
      const vals: number[] = [];
      for (let c = c0; c < c1; c++) vals.push(w[r * cols + c]!);
      const p = findParams(vals, bits, sym, mse);
      out.scales[r * ng + k] = p.scale;
      out.zeros[r * ng + k] = p.zero;
      for (let c = c0; c < c1; c++) {
        const q = quantCode(w[r * cols + c]!, p, maxq);
        out.codes[r * cols + c] = q;
        out.dequant[r * cols + c] = p.scale * (q - p.zero);
      }
    }
  }
  return out;
}

/** H = 2/N Σ_t x_t x_tᵀ over all tokens (x tokens×n row-major). */
export function hessianRef(xs: Float32Array[], n: number): Float64Array {
  const h = new Float64Array(n * n);
  let N = 0;
  for (const x of xs) {
    const T = x.length / n;
    N += T;
    for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i * n + j] += x[t * n + i]! * x[t * n + j]!;
  }
  for (let i = 0; i < n * n; i++) h[i] = (2 * h[i]!) / N;
  return h;
}

/** tr(ΔHΔᵀ) for Δ rows×n. */
export function traceForm(d: ArrayLike<number>, rows: number, n: number, h: Float64Array): number {
  let s = 0;
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < n; j++) v += h[i * n + j]! * d[r * n + j]!;
      s += d[r * n + i]! * v;
    }
  return s;
}

/** Lower Cholesky (throws if not PD). */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) throw new Error('not PD');
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j]!;
    }
  return l;
}

/** Inverse of an SPD matrix via its Cholesky factor. */
export function spdInverse(a: Float64Array, n: number): Float64Array {
  const l = cholesky(a, n);
  const inv = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i * n + k]! * y[k]!;
      y[i] = s / l[i * n + i]!;
    }
    const x = new Float64Array(n);
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k]!;
      x[i] = s / l[i * n + i]!;
    }
    for (let i = 0; i < n; i++) inv[i * n + c] = x[i]!;
  }
  return inv;
}

export interface GptqRefOptions {
  bits: number;
  groupSize: number;
  sym: boolean;
  damp: number;
  actOrder?: boolean;
  staticGroups?: boolean;
}

/** Damped Hessian as GPTQ uses it (dead diagonals set to 1, then + damp·mean(diag)·I). */
export function dampedHessian(H: Float64Array, n: number, damp: number): Float64Array {
  const h = Float64Array.from(H);
  for (let j = 0; j < n; j++) if (h[j * n + j] === 0) h[j * n + j] = 1;
  let mean = 0;
  for (let j = 0; j < n; j++) mean += h[j * n + j]!;
  mean /= n;
  for (let j = 0; j < n; j++) h[j * n + j] += damp * mean;
  return h;
}

/** Sequential (unblocked) float64 GPTQ; group parameters from the fully updated columns. */
export function gptqRef(w: Float32Array, rows: number, n: number, H: Float64Array, o: GptqRefOptions): RefQuant & { loss: number } {
  const maxq = 2 ** o.bits - 1;
  const g = o.groupSize <= 0 || o.groupSize >= n ? n : o.groupSize;
  const grouped = g < n,
    stat = grouped && (!!o.staticGroups || !!o.actOrder);
  const ng = Math.ceil(n / g);
  const W = Float64Array.from(w);
  const rowP: RefParams[] = [];
  if (!grouped) for (let r = 0; r < rows; r++) rowP.push(findParams(W.subarray(r * n, r * n + n), o.bits, o.sym));
  for (let j = 0; j < n; j++) if (H[j * n + j] === 0) for (let r = 0; r < rows; r++) W[r * n + j] = 0;
  const out: RefQuant & { loss: number } = {
    codes: new Uint8Array(rows * n),
    dequant: new Float32Array(rows * n),
    scales: new Float32Array(rows * ng),
    zeros: new Uint8Array(rows * ng),
    groupSize: g,
    loss: 0,
  };
  const gp: RefParams[][] = [];
  for (let r = 0; r < rows; r++) {
    gp.push([]);
    for (let k = 0; k < ng; k++)
      gp[r]!.push(stat ? findParams(W.subarray(r * n + k * g, r * n + Math.min(n, k * g + g)), o.bits, o.sym) : { scale: 0, zero: 0 });
  }
  const hd0 = dampedHessian(H, n, 0);
  const perm = [...Array(n).keys()];
  if (o.actOrder) perm.sort((a, b) => hd0[b * n + b]! - hd0[a * n + a]!); // Array.sort is stable
  const hp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) hp[i * n + j] = H[perm[i]! * n + perm[j]!]!;
  const hd = dampedHessian(hp, n, o.damp);
  const hinv = spdInverse(hd, n);
  const L2 = cholesky(hinv, n); // U = L2ᵀ
  const U = (i: number, j: number): number => L2[j * n + i]!;
  for (let r = 0; r < rows; r++) {
    const wr = perm.map((c) => W[r * n + c]!);
    for (let j = 0; j < n; j++) {
      let p: RefParams;
      if (!grouped) p = rowP[r]!;
      else if (stat) p = gp[r]![Math.floor(perm[j]! / g)]!;
      else {
        if (j % g === 0) gp[r]![j / g] = findParams(wr.slice(j, Math.min(n, j + g)), o.bits, o.sym);
        p = gp[r]![Math.floor(j / g)]!;
      }
      const q = quantCode(wr[j]!, p, maxq);
      const deq = Math.fround(p.scale * (q - p.zero));
      const d = U(j, j),
        e = (wr[j]! - deq) / d;
      out.loss += (wr[j]! - deq) ** 2 / (2 * d * d);
      out.codes[r * n + perm[j]!] = q;
      out.dequant[r * n + perm[j]!] = deq;
      for (let k = j + 1; k < n; k++) wr[k] = wr[k]! - e * U(j, k);
    }
    for (let k = 0; k < ng; k++) {
      const p = grouped ? gp[r]![k]! : rowP[r]!;
      out.scales[r * ng + k] = p.scale;
      out.zeros[r * ng + k] = p.zero;
    }
  }
  return out;
}

/** Deterministic PRNG for test data: the engine's mulberry32. */
export const rng = seededRandom;
export function gaussian(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}
/** Correlated activations: x = z·M (tokens×n) with a random mixing matrix, plus per-channel scales. */
export function correlatedX(tokens: number, n: number, seed: number): Float32Array {
  const z = gaussian(tokens * n, seed),
    m = gaussian(n * n, seed + 1, 1 / Math.sqrt(n));
  const x = new Float32Array(tokens * n);
  for (let t = 0; t < tokens; t++)
    for (let j = 0; j < n; j++) {
      let s = z[t * n + j]!;
      for (let k = 0; k < n; k++) s += 0.8 * z[t * n + k]! * m[k * n + j]!;
      x[t * n + j] = s * (1 + (j % 7));
    }
  return x;
}
