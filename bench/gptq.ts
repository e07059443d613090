/**
 * GPTQ benchmark: `npm run bench -- gptq` (sizes via LOWBIT_BENCH_N, LOWBIT_BENCH_TOKENS; default the
 * reference's 4096×4096, g128, 2048 tokens). Prints Hessian / Cholesky / solve timings and GFLOP/s, the
 * peak RSS, and the ratio against the same solve with a naive triple-loop lazy update on one thread,
 * measured in the same run at a size small enough to finish (LOWBIT_BENCH_BASELINE_N, default 1024)
 * and scaled by the n³ flop count.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hessian, gptq, gptqNaiveBaseline } from '../native/ts/index';
import { gaussian } from '../test/unit/native/linearReference';

const REF_SOLVE_S = 16.8; // IST-DASLab gptq.py, 4096², g128, 2 threads (ALGORITHMS.md)

function env(name: string, def: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : def;
}

async function solve(n: number, tokens: number, naive: boolean, threads: number): Promise<{ hessianS: number; solveS: number; cholS: number }> {
  const x = gaussian(tokens * n, 1);
  for (let t = 0; t < tokens; t++) for (let j = 1; j < n; j++) x[t * n + j] = x[t * n + j]! + 0.5 * x[t * n + j - 1]!; // correlated
  const w = gaussian(n * n, 2, 0.02);
  const h = new Hessian(n);
  let t0 = performance.now();
  await h.add(x, tokens, threads);
  const hessianS = (performance.now() - t0) / 1000;
  // Factorization alone: a per-row solve on a 1-row weight costs O(n²) besides the O(n³) factorization.
  t0 = performance.now();
  await gptq(w.subarray(0, n), 1, n, h, { bits: 4, groupSize: 128, symmetric: false }, { threads });
  const cholS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await (naive ? gptqNaiveBaseline : gptq)(w, n, n, h, { bits: 4, groupSize: 128, symmetric: false }, { threads });
  const solveS = (performance.now() - t0) / 1000;
  return { hessianS, solveS, cholS };
}

/**
 * OpenBLAS sgemm of the same XᵀX, the baseline for the Hessian (bench/sgemm_baseline.c, built
 * here with the system compiler); undefined when OpenBLAS is not installed.
 */
function openBlasSgemm(n: number, tokens: number): number | undefined {
  const exe = join(tmpdir(), `lowbit-sgemm-baseline-${process.pid}`);
  try {
    execFileSync('cc', ['-O2', '-o', exe, join(__dirname, 'sgemm_baseline.c'), '-lopenblas'], { stdio: 'ignore' });
    return Number(execFileSync(exe, [String(n), String(tokens), '0'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  } finally {
    rmSync(exe, { force: true });
  }
}

/** Runs the benchmark and prints its lines. */
export async function main(): Promise<void> {
  const n = env('LOWBIT_BENCH_N', 4096), tokens = env('LOWBIT_BENCH_TOKENS', 2048), nb = env('LOWBIT_BENCH_BASELINE_N', 1024);
  const r = await solve(n, tokens, false, 0);
  const solveFlops = 2 * n * n * n; // Σ_j 2m(n−j) updates (m = n) + ≈ (4/3)n³ factorization
  const hessFlops = tokens * n * n;
  const cholFlops = (4 / 3) * n ** 3;
  const updS = Math.max(1e-9, r.solveS - r.cholS);
  console.log(`gptq ${n}x${n} g128 tokens=${tokens} hessian_s=${r.hessianS.toFixed(3)} solve_s=${r.solveS.toFixed(3)} gflops=${(solveFlops / r.solveS / 1e9).toFixed(2)}`);
  console.log(`  hessian   ${(hessFlops / r.hessianS / 1e9).toFixed(2)} GFLOP/s (fp64, T·n² flops)`);
  console.log(`  cholesky  ${(cholFlops / r.cholS / 1e9).toFixed(2)} GFLOP/s (chol + triangular inverse via the reversal identity; reference-equivalent 4/3·n³ flops, ${r.cholS.toFixed(3)} s)`);
  console.log(`  updates   ${((n * n * n) / updS / 1e9).toFixed(2)} GFLOP/s (block + lazy updates, ${updS.toFixed(3)} s)`);
  const base = await solve(nb, Math.min(tokens, 2 * nb), true, 1);
  const fast = await solve(nb, Math.min(tokens, 2 * nb), false, 0);
  console.log(`  baseline  naive triple-loop lazy update, 1 thread, at ${nb}: ${base.solveS.toFixed(3)} s vs blocked ${fast.solveS.toFixed(3)} s → ${(base.solveS / fast.solveS).toFixed(1)}x; scaled to ${n}: ~${(base.solveS * (n / nb) ** 3).toFixed(1)} s → ${((base.solveS * (n / nb) ** 3) / r.solveS).toFixed(1)}x`);
  if (n === 4096) console.log(`  vs PyTorch reference solve ${REF_SOLVE_S} s (measured per ALGORITHMS.md, not in this run): ${(REF_SOLVE_S / r.solveS).toFixed(1)}x`);
  const blas = openBlasSgemm(n, tokens);
  if (blas === undefined) console.log('  sgemm     OpenBLAS not installed (apt-get install libopenblas-dev): no BLAS baseline for the Hessian');
  else console.log(`  sgemm     OpenBLAS XᵀX ${n}x${n} from ${tokens} tokens, best of 3: ${blas.toFixed(3)} s → Hessian/sgemm = ${(r.hessianS / blas).toFixed(2)}x (target ≤ 1.5x)`);
  let torch = false;
  try { execFileSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }); torch = true; } catch { /* not installed */ }
  if (!torch) console.log('  torch     not installed: reference not re-measured');
  console.log(`  peak_rss_mb=${(process.resourceUsage().maxRSS / 1024).toFixed(0)}`);
}
