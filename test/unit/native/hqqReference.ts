/**
 * Float64 reference of HQQ (Badri & Shaji 2023, "Half-Quadratic Quantization of Large Machine Learning
 * Models"), written from the paper's update equations: per group, scale s = (max − min)/maxq fixed,
 * Q = clamp(round(W/s + z)), W_e = shrink_lp(W − s(Q − z), β, p), z = mean(Q − (W − W_e)/s), β ← κβ;
 * stop when the global mean|W − Ŵ| stops falling and keep the best zero points.
 */
import { findParams } from './linearReference';

export interface HqqRefOptions {
  bits: number;
  groupSize: number;
  iterations: number;
  lpNorm: number;
  beta: number;
  kappa: number;
  integerZero: boolean;
}

export function shrinkLpRef(x: number, beta: number, p: number): number {
  const a = Math.abs(x);
  const t = p === 1 ? 1 / beta : Math.pow(a, p - 1) / beta;
  return Math.sign(x) * Math.max(a - t, 0);
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);
const roundHalfEven = (x: number): number => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

export function hqqRef(w: Float32Array, rows: number, cols: number, o: HqqRefOptions) {
  const g = o.groupSize <= 0 || o.groupSize >= cols ? cols : o.groupSize;
  const ng = Math.ceil(cols / g),
    maxq = 2 ** o.bits - 1;
  const s = new Float64Array(rows * ng),
    z = new Float64Array(rows * ng);
  const code = (v: number, si: number, zi: number) => clamp(roundHalfEven(v / si + zi), 0, maxq);
  const each = (fn: (r: number, gi: number, i: number, c0: number, len: number) => void) => {
    for (let r = 0; r < rows; r++) for (let gi = 0; gi < ng; gi++) fn(r, gi, r * ng + gi, gi * g, Math.min(g, cols - gi * g));
  };
  each((r, _gi, i, c0, len) => {
    if (o.integerZero) {
      // RTN's asymmetric grid: the range containing 0 (rtnRef's findParams).
      const p = findParams(w.subarray(r * cols + c0, r * cols + c0 + len), o.bits, false);
      s[i] = p.scale;
      z[i] = p.zero;
      return;
    }
    let lo = Infinity,
      hi = -Infinity;
    for (let k = 0; k < len; k++) {
      lo = Math.min(lo, w[r * cols + c0 + k]!);
      hi = Math.max(hi, w[r * cols + c0 + k]!);
    }
    let inv = Math.abs(hi - lo) <= 1e-4 ? 1 : maxq / (hi - lo);
    inv = Math.min(inv, 2e4);
    s[i] = Math.fround(1 / inv);
    z[i] = -lo / s[i]!;
  });
  const zInit = Float64Array.from(z);
  const groupErr = (r: number, c0: number, len: number, si: number, zi: number) => {
    let e = 0;
    for (let k = 0; k < len; k++) {
      const v = w[r * cols + c0 + k]!;
      e += Math.abs(v - si * (code(v, si, zi) - zi));
    }
    return e;
  };
  const layerErr = () => {
    let e = 0;
    each((r, _gi, i, c0, len) => (e += groupErr(r, c0, len, s[i]!, z[i]!)));
    return e / (rows * cols);
  };
  const objective: number[] = [];
  let best = Infinity,
    beta = o.beta,
    zBest = Float64Array.from(z);
  for (let it = 0; it <= o.iterations; it++) {
    const err = layerErr();
    if (!(best - err > 0)) break;
    best = err;
    zBest = Float64Array.from(z);
    objective.push(err);
    if (it === o.iterations) break;
    each((r, _gi, i, c0, len) => {
      let acc = 0;
      for (let k = 0; k < len; k++) {
        const v = w[r * cols + c0 + k]!;
        const q = code(v, s[i]!, z[i]!);
        const we = shrinkLpRef(v - s[i]! * (q - z[i]!), beta, o.lpNorm);
        acc += q - (v - we) / s[i]!;
      }
      z[i] = acc / len;
    });
    beta *= o.kappa;
  }
  z.set(zBest);
  if (o.integerZero)
    each((r, _gi, i, c0, len) => {
      let pick = zInit[i]!,
        pe = groupErr(r, c0, len, s[i]!, pick);
      for (const c of [Math.floor(z[i]!), Math.ceil(z[i]!)]) {
        const cc = clamp(c, 0, maxq),
          e = groupErr(r, c0, len, s[i]!, cc);
        if (e < pe) {
          pick = cc;
          pe = e;
        }
      }
      z[i] = pick;
    });
  return { scales: s, zeros: z, objective, iterations: objective.length - 1 };
}

/** mean|W − Ŵ|. */
export function meanAbsError(w: ArrayLike<number>, what: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < w.length; i++) e += Math.abs(w[i]! - what[i]!);
  return e / w.length;
}
