/**
 * The randomized orthogonal matrix of QuaRot's offline rotation: R = diag(s)·H/√n with s a seeded ±1
 * vector and H a Hadamard matrix of order n (H·Hᵀ = n·I). H is Sylvester's H_{2^k} when n is a power of
 * two, else H_{2^k} ⊗ P_m with P_m Paley's construction I (m = q + 1, q prime, q ≡ 3 mod 4: 12, 20,
 * 24, 44, 48, 60, 68, …). Sizes with neither (e.g. 172 = 4·43) get a seeded random orthogonal matrix
 * (Gaussian + Gram–Schmidt, done twice) instead; `construction` says which.
 *
 * Rows are rotated as v ← v·R in O(n log n) (fast Walsh–Hadamard over the 2^k factor, a dense m×m
 * product over the Paley factor), in float64: `apply` in TypeScript (one row, the reference),
 * `applyRows` through the native kernel (native/src/core/hadamard.cc) for whole matrices.
 */
import { seededRandom } from '../calibrate/calibrationData';
import { fwhtRows } from '../../native/ts/hadamard';

export interface Rotation {
  n: number;
  seed: number;
  /** `hadamard 2^k`, `hadamard 2^k ⊗ paley m`, or `random orthogonal` (no Hadamard of this order here). */
  construction: string;
  /** v ← v·R for one row of length n (in place). */
  apply(v: Float64Array): void;
  /** v ← v·R for `count` rows of length n packed in `v` (in place; the Walsh–Hadamard part runs natively). */
  applyRows?(v: Float64Array, count: number): void;
  /** The dense matrix R, row-major [n, n] (tests, small sizes). */
  dense(): Float64Array;
}

function isPrime(q: number): boolean {
  if (q < 2) return false;
  for (let d = 2; d * d <= q; d++) if (q % d === 0) return false;
  return true;
}

/** Paley I order: m = q + 1 with q an odd prime ≡ 3 (mod 4). */
export function isPaleyOrder(m: number): boolean {
  const q = m - 1;
  return q > 2 && q % 4 === 3 && isPrime(q);
}

/** Paley construction I: H = I + S, S = [[0, 1ᵀ], [−1, Q]] with Q the Jacobsthal matrix of GF(q). Row-major m×m, entries ±1. */
export function paleyHadamard(m: number): Float64Array {
  if (!isPaleyOrder(m)) throw new Error(`no Paley I Hadamard matrix of order ${m} (needs ${m} − 1 prime and ≡ 3 mod 4)`);
  const q = m - 1;
  const chi = new Int8Array(q).fill(-1);
  chi[0] = 0;
  for (let x = 1; x < q; x++) chi[(x * x) % q] = 1;
  const h = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let s: number;
      if (i === 0 && j === 0) s = 0;
      else if (i === 0) s = 1;
      else if (j === 0) s = -1;
      else s = chi[(((j - i) % q) + q) % q];
      h[i * m + j] = s + (i === j ? 1 : 0);
    }
  }
  return h;
}

/** Sylvester's Hadamard matrix of order n = 2^k (row-major; H[i][j] = (−1)^popcount(i & j)). */
export function sylvesterHadamard(n: number): Float64Array {
  if (n < 1 || (n & (n - 1)) !== 0) throw new Error(`Sylvester's construction needs a power of two, not ${n}`);
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let b = i & j,
        c = 0;
      while (b) {
        c ^= b & 1;
        b >>>= 1;
      }
      h[i * n + j] = c ? -1 : 1;
    }
  }
  return h;
}

/** Unnormalized in-place fast Walsh–Hadamard transform of `p` blocks of stride `stride` (x ← x·H_p along that axis). */
function fwht(v: Float64Array, p: number, stride: number): void {
  for (let len = 1; len < p; len <<= 1) {
    for (let i = 0; i < p; i += len << 1) {
      for (let j = i; j < i + len; j++) {
        for (let b = 0; b < stride; b++) {
          const a = v[j * stride + b],
            c = v[(j + len) * stride + b];
          v[j * stride + b] = a + c;
          v[(j + len) * stride + b] = a - c;
        }
      }
    }
  }
}

/** How n factors into a Hadamard order: 2^k · m with m = 1 or a Paley order (largest 2^k first), else undefined. */
export function hadamardFactors(n: number): { pow2: number; m: number } | undefined {
  if (!Number.isInteger(n) || n < 1) return undefined;
  for (let p = 1 << Math.floor(Math.log2(n)); p >= 1; p >>= 1) {
    if (n % p) continue;
    const m = n / p;
    if (m === 1 || isPaleyOrder(m)) return { pow2: p, m };
  }
  return undefined;
}

/** Seeded random orthogonal n×n (Gaussian, Gram–Schmidt twice), row-major. */
function randomOrthogonal(n: number, rnd: () => number): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n * n; i += 2) {
    // Box–Muller
    const u = Math.max(rnd(), 1e-300),
      w = rnd();
    const r = Math.sqrt(-2 * Math.log(u));
    q[i] = r * Math.cos(2 * Math.PI * w);
    if (i + 1 < n * n) q[i + 1] = r * Math.sin(2 * Math.PI * w);
  }
  for (let i = 0; i < n; i++) {
    const row = q.subarray(i * n, (i + 1) * n);
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const other = q.subarray(j * n, (j + 1) * n);
        let d = 0;
        for (let k = 0; k < n; k++) d += row[k] * other[k];
        for (let k = 0; k < n; k++) row[k] -= d * other[k];
      }
    }
    let norm = 0;
    for (let k = 0; k < n; k++) norm += row[k] * row[k];
    norm = Math.sqrt(norm);
    for (let k = 0; k < n; k++) row[k] /= norm;
  }
  return q;
}

/** The seeded randomized Hadamard rotation of order n (see the file comment). */
export function randomizedHadamard(n: number, seed: number): Rotation {
  if (!Number.isInteger(n) || n < 1) throw new Error(`rotation size must be a positive integer, not ${n}`);
  const rnd = seededRandom(seed);
  const signs = new Float64Array(n);
  for (let i = 0; i < n; i++) signs[i] = rnd() < 0.5 ? -1 : 1;
  const f = hadamardFactors(n);
  let apply: (v: Float64Array) => void;
  let applyRows: ((v: Float64Array, count: number) => void) | undefined;
  let construction: string;
  if (f) {
    const { pow2: p, m } = f;
    const pm = m > 1 ? paleyHadamard(m) : undefined;
    const scale = 1 / Math.sqrt(n);
    const tmp = new Float64Array(m);
    construction = m > 1 ? `hadamard 2^${Math.log2(p)} ⊗ paley ${m}` : `hadamard 2^${Math.log2(p)}`;
    /** row ← row·P_m for one length-m slice, in place (through tmp). */
    const timesPaley = (row: Float64Array, pm: Float64Array) => {
      tmp.fill(0);
      for (let b = 0; b < m; b++) {
        const x = row[b];
        if (x === 0) continue;
        for (let d = 0; d < m; d++) tmp[d] += x * pm[b * m + d];
      }
      row.set(tmp);
    };
    apply = (v) => {
      for (let i = 0; i < n; i++) v[i] *= signs[i];
      // v viewed as [p, m] (index a·m + b): v·(H_p ⊗ P_m) = H_pᵀ·V·P_m; H_p is symmetric.
      fwht(v, p, m);
      if (pm) for (let a = 0; a < p; a++) timesPaley(v.subarray(a * m, (a + 1) * m), pm);
      for (let i = 0; i < n; i++) v[i] *= scale;
    };
    applyRows = (v, count) => {
      for (let r = 0; r < count; r++) for (let i = 0; i < n; i++) v[r * n + i] *= signs[i];
      fwhtRows(v, count, p, m);
      for (let r = 0; r < count; r++) {
        for (let a = 0; a < p; a++) {
          const row = v.subarray(r * n + a * m, r * n + (a + 1) * m);
          if (pm) timesPaley(row, pm);
          for (let b = 0; b < m; b++) row[b] *= scale;
        }
      }
    };
  } else {
    const q = randomOrthogonal(n, rnd);
    const tmp = new Float64Array(n);
    construction = 'random orthogonal';
    apply = (v) => {
      tmp.fill(0);
      for (let i = 0; i < n; i++) {
        const x = v[i] * signs[i];
        if (x === 0) continue;
        for (let j = 0; j < n; j++) tmp[j] += x * q[i * n + j];
      }
      v.set(tmp);
    };
  }
  return {
    n,
    seed,
    construction,
    apply,
    ...(applyRows ? { applyRows } : {}),
    dense() {
      const r = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        const e = r.subarray(i * n, (i + 1) * n);
        e[i] = 1;
        apply(e);
      }
      return r;
    },
  };
}

/**
 * Rotates a row-major [rows, cols] float matrix in place: `axis` 1 rotates each row (v ← v·R, n = cols:
 * W·R), `axis` 0 each column (n = rows: Rᵀ·W).
 */
export function rotateMatrix(data: Float32Array, rows: number, cols: number, axis: 0 | 1, r: Rotation): void {
  const n = axis === 1 ? cols : rows;
  if (n !== r.n) throw new Error(`cannot rotate a [${rows}, ${cols}] matrix along axis ${axis} with a rotation of size ${r.n}`);
  const count = axis === 1 ? rows : cols;
  if (r.applyRows) {
    const buf = new Float64Array(count * n);
    for (let k = 0; k < count; k++) for (let j = 0; j < n; j++) buf[k * n + j] = axis === 1 ? data[k * cols + j] : data[j * cols + k];
    r.applyRows(buf, count);
    for (let k = 0; k < count; k++)
      for (let j = 0; j < n; j++) {
        if (axis === 1) data[k * cols + j] = buf[k * n + j];
        else data[j * cols + k] = buf[k * n + j];
      }
    return;
  }
  const v = new Float64Array(n);
  for (let k = 0; k < count; k++) {
    if (axis === 1) for (let j = 0; j < n; j++) v[j] = data[k * cols + j];
    else for (let i = 0; i < n; i++) v[i] = data[i * cols + k];
    r.apply(v);
    if (axis === 1) for (let j = 0; j < n; j++) data[k * cols + j] = v[j];
    else for (let i = 0; i < n; i++) data[i * cols + k] = v[i];
  }
}
