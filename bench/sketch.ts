/**
 * R1-Sketch vs full SVD for the same rank (FLRQ's claimed ≈4.4× speed-up): times a rank-r R1-Sketch
 * (2 power iterations) and a full float64 SVD (then truncated to r) on random n×n layers, and
 * prints the ratio with the relative Frobenius error of both rank-r approximations.
 * Sizes: 2048 by default; set LOWBIT_BENCH_SKETCH_SIZES=2048,4096 to add the larger layer.
 */
import { r1Sketch, svd } from '../native/ts/binaryLowRank';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** Random layer with a decaying spectrum (sum of rank-1 terms plus noise), like a trained weight. */
function layer(n: number): Float64Array {
  const r = rng(n),
    a = Float64Array.from({ length: n * n }, () => 0.02 * r());
  for (let k = 0; k < 16; k++) {
    const x = Array.from({ length: n }, r),
      y = Array.from({ length: n }, r),
      s = 1 / (k + 1);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j]! += s * x[i]! * y[j]!;
  }
  return a;
}

function relErr(a: Float64Array, n: number, L: ArrayLike<number>, R: ArrayLike<number>, k: number): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let v = 0;
      for (let t = 0; t < k; t++) v += L[i * k + t]! * R[t * n + j]!;
      num += (a[i * n + j]! - v) ** 2;
      den += a[i * n + j]! ** 2;
    }
  return Math.sqrt(num / den);
}

/** Runs the benchmark and prints one line per size. */
export async function main(): Promise<void> {
  const sizes = (process.env.LOWBIT_BENCH_SKETCH_SIZES ?? '2048').split(',').map(Number);
  const rank = 8;
  for (const n of sizes) {
    const a = layer(n);
    let t = performance.now();
    const sk = await r1Sketch(a, n, n, { rank, iters: 2, seed: 0 });
    const tSketch = performance.now() - t;
    t = performance.now();
    const full = await svd(a, n, n);
    const tSvd = performance.now() - t;
    const L = new Float64Array(n * rank),
      R = new Float64Array(rank * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < rank; k++) L[i * rank + k] = full.u[i * n + k]! * full.s[k]!;
    R.set(full.vt.subarray(0, rank * n));
    console.log(
      `sketch n=${n} rank=${rank}: r1Sketch ${(tSketch / 1000).toFixed(2)} s, full SVD ${(tSvd / 1000).toFixed(2)} s, ` +
        `ratio ${(tSvd / tSketch).toFixed(1)}×; rel. error sketch ${relErr(a, n, sk.L, sk.R, rank).toFixed(4)} vs SVD ${relErr(a, n, L, R, rank).toFixed(4)}`,
    );
  }
}
