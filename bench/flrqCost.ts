/**
 * FLRQ's cost on the GPTQ bench layer (bench/gptq.ts calls this with its n, tokens and solve time):
 * the same n×n weight and correlated inputs, 4-bit, group 128, with FLRQ's defaults (the authors' rank
 * rule, 8 sketch iterations, asymmetric GPTQ on W − W_r; budget x = 0.2), timed once in the same run as
 * GPTQ's solve and printed as a ratio to it. LOWBIT_BENCH_FLRQ=0 skips it.
 */
import { Hessian } from '../native/ts/index';
import { flrq } from '../native/ts/binaryLowRank';
import { gaussian } from '../test/unit/native/linearReference';

export async function printFlrqCost(n: number, tokens: number, gptqSolveS: number): Promise<void> {
  if (process.env.LOWBIT_BENCH_FLRQ === '0') {
    console.log('  flrq      skipped (LOWBIT_BENCH_FLRQ=0)');
    return;
  }
  const x = gaussian(tokens * n, 1);
  for (let t = 0; t < tokens; t++) for (let j = 1; j < n; j++) x[t * n + j] = x[t * n + j]! + 0.5 * x[t * n + j - 1]!;
  const w = gaussian(n * n, 2, 0.02);
  const h = new Hessian(n);
  await h.add(x, tokens, 0);
  const absMean = new Float32Array(n);
  for (let t = 0; t < tokens; t++) for (let j = 0; j < n; j++) absMean[j] = absMean[j]! + Math.abs(x[t * n + j]!) / tokens;
  const H = h.matrix();
  const t0 = performance.now();
  const r = await flrq(w, n, n, H, absMean, {
    bits: 4,
    groupSize: 128,
    budget: 0.2,
    sketchIters: 8,
    actExponent: 2.4,
    rankRule: 'authors',
    blcEpochs: 0,
    quantizer: 'gptq_asym',
    threads: 0,
  });
  const s = (performance.now() - t0) / 1000;
  console.log(
    `  flrq      same layer, 4-bit g128, defaults (authors' rank rule, 8 sketch iterations, gptq_asym, x 0.2): ${s.toFixed(3)} s at rank ${r.rank} → ${(s / gptqSolveS).toFixed(2)}x GPTQ's best solve (${gptqSolveS.toFixed(3)} s), same run`,
  );
}
