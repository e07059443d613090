/**
 * HQQ and AdaRound on the GPTQ bench layer (bench/gptq.ts), printed next to GPTQ's solve time measured
 * in the same run. HQQ runs in full (its defaults); AdaRound's cost is linear in its steps (one
 * rows×cols×cols product each), so a few steps are timed (LOWBIT_BENCH_ADAROUND_STEPS, default 3) and
 * the cost of the default 1000 steps is extrapolated from them.
 */
import { Hessian, adaround, hqq, rtn } from '../native/ts/index';
import { gaussian } from '../test/unit/native/linearReference';

export async function roundingLines(n: number, tokens: number, gptqSolveS: number, steps: number): Promise<string[]> {
  const x = gaussian(tokens * n, 1);
  for (let t = 0; t < tokens; t++) for (let j = 1; j < n; j++) x[t * n + j] = x[t * n + j]! + 0.5 * x[t * n + j - 1]!; // as gptq.ts
  const w = gaussian(n * n, 2, 0.02);
  const h = new Hessian(n);
  await h.add(x, tokens);
  let t0 = performance.now();
  const r = await hqq(w, n, n, { bits: 4, groupSize: 128 });
  const hqqS = (performance.now() - t0) / 1000;
  const grid = await rtn(w, n, n, { bits: 4, groupSize: 128, symmetric: false });
  t0 = performance.now();
  await adaround(w, n, n, h.matrix(), { bits: 4, groupSize: 128, scales: grid.scales, zeros: grid.zeros }, { iterations: steps });
  const adaS = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await adaround(w, n, n, h.matrix(), { bits: 4, groupSize: 128, scales: grid.scales, zeros: grid.zeros }, { iterations: 0 });
  const fixedS = (performance.now() - t0) / 1000; // init + the two final tr(ΔHΔᵀ)
  const perStep = Math.max(0, adaS - fixedS) / Math.max(1, steps);
  const full = fixedS + 1000 * perStep;
  const gflops = (2 * n * n * n) / perStep / 1e9;
  return [
    `  hqq       ${n}x${n} g128 w4 (data-free, ${r.iterations} iterations accepted): ${hqqS.toFixed(3)} s = ${(hqqS / gptqSolveS).toFixed(2)}x GPTQ's solve in this run`,
    `  adaround  ${n}x${n} g128 w4: ${perStep.toFixed(3)} s a step (${gflops.toFixed(1)} GFLOP/s on the 2·m·n² product; ${steps} steps timed, ${fixedS.toFixed(3)} s fixed) → default 1000 steps ≈ ${full.toFixed(0)} s = ${(full / gptqSolveS).toFixed(0)}x GPTQ's solve in this run`,
  ];
}
