/**
 * Child process of the scale bench (bench/scale.ts): `job <plan.json>` runs one compression job and
 * prints `{"total_s","solve_s","peak_rss_bytes","plan"}`; `forward <model> <samples> <seq> <vocab> <seed>`
 * times a plain FP onnxruntime pass over the same calibration tokens and prints `{"forward_s","load_s"}`.
 * Each runs in its own process so that its peak RSS is its own.
 */
import { readFileSync } from 'node:fs';
import { calibrationFeeds } from '../engine/calibrate/calibrationData';
import { openSession } from '../engine/evaluate/ortSession';
import { runJob } from '../engine/job';
import { loadModel } from '../engine/onnx/model';
import type { JobPlan, JobProgress } from '../protocol/plan';

async function job(planPath: string): Promise<void> {
  const plan = JSON.parse(readFileSync(planPath, 'utf8')) as JobPlan;
  let solve = 0,
    started = 0,
    memory = '';
  const t0 = performance.now();
  await runJob(plan, {
    onProgress: (p: JobProgress) => {
      if (p.stage === 'calibrate' && p.message.startsWith('memory:')) {
        memory = p.message;
        process.stderr.write(`  ${p.message}\n`);
      }
      if (p.stage !== 'quantize') return;
      if (p.fraction === 0 && !/^block \d+ of \d+:/.test(p.message)) started = performance.now();
      if (p.fraction === 0 && /^block \d+ of \d+:/.test(p.message)) process.stderr.write(`  ${p.message} · ${memoryNow()}\n`);
      if (p.fraction === 1) solve += (performance.now() - started) / 1000;
    },
  });
  const total = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ total_s: total, solve_s: solve, peak_rss_bytes: process.resourceUsage().maxRSS * 1024, plan: memory }));
}

/** RSS now and the peak so far, for the per-block log lines. */
function memoryNow(): string {
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  const m = process.memoryUsage();
  return `rss ${gb(m.rss)} (JS heap ${gb(m.heapUsed)}, array buffers ${gb(m.arrayBuffers)}), peak so far ${gb(process.resourceUsage().maxRSS * 1024)}`;
}

async function forward(modelPath: string, samples: number, seed: number, threads: number): Promise<void> {
  const model = await loadModel(modelPath);
  const feeds = await calibrationFeeds({ kind: 'random', samples, seed, mode: 'parallel' }, model.summary(), undefined);
  let t = performance.now();
  const session = await openSession(modelPath, threads, modelPath);
  const load = (performance.now() - t) / 1000;
  t = performance.now();
  for (const f of feeds.batches) await session.run(f);
  const fwd = (performance.now() - t) / 1000;
  await session.release();
  console.log(JSON.stringify({ forward_s: fwd, load_s: load, peak_rss_bytes: process.resourceUsage().maxRSS * 1024 }));
}

const [cmd, ...args] = process.argv.slice(2);
(cmd === 'job' ? job(args[0]) : forward(args[0], Number(args[1]), Number(args[2]), Number(args[3]))).catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
