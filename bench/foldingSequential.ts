/**
 * Sequential AWQ, streamed vs whole-model (issue 11): `npm run bench -- foldseq` writes random-weight
 * Llamas (bench/llamaModel.ts, fp32 with external data; temp folder, removed afterwards) with 8 and 16
 * layers and runs the same job on each, AWQ 4-bit g32 with sequential calibration, once streamed
 * (`memory.streaming: always`: one block session per pass) and once whole-model (`never`: the model
 * is re-serialized and run whole for every block). All four jobs run in this one process, so their
 * ratios are comparable on a loaded machine. For each it prints one line:
 *   foldseq layers=… path=… blocks=… quantize_s=… per_block_s=… first_blocks_s=… last_blocks_s=…
 * where quantize_s is the job's calibrate + quantize time (they interleave), per_block_s that over
 * the blocks, and first/last_blocks_s the mean time of the first and the last six transformer
 * blocks (three attention, three MLP, each from its MLP on; the first block and the head are left out). Linear: per_block_s stays flat from 8 to 16
 * layers and last ≈ first. cpu_* are the same per-block means in this process's CPU time (less
 * disturbed by a loaded machine). Then the 16/8 ratios. LOWBIT_BENCH_FOLDSEQ_LAYERS=a,b
 * changes the layer counts, LOWBIT_BENCH_FOLDSEQ_SAMPLES the calibration windows (default 64 of 64 tokens; with 16 the AWQ search hides the forward passes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJob } from '../engine/job';
import type { JobPlan } from '../protocol/plan';
import { writeLlama, type LlamaShape } from './llamaModel';

const COUNTS = (process.env.LOWBIT_BENCH_FOLDSEQ_LAYERS ?? '8,16').split(',').map(Number);
// Calibration windows of 64 tokens: enough that a forward pass is not negligible next to the AWQ search.
const SAMPLES = Number(process.env.LOWBIT_BENCH_FOLDSEQ_SAMPLES ?? 64);
const SHAPE: Omit<LlamaShape, 'layers'> = { hidden: 128, ffn: 344, heads: 4, kvHeads: 2, vocab: 1000, seq: 64, dtype: 'float32' };

export async function one(dir: string, layers: number, streaming: 'always' | 'never') {
  const model = join(dir, `llama${layers}.onnx`);
  const per = ['wq', 'wk', 'wv', 'wo', 'w1', 'w3', 'w2'];
  const names = [...Array.from({ length: layers }, (_, l) => per.map((w) => `layers.${l}.${w}`)).flat(), 'output'];
  const out = join(dir, `out-${layers}-${streaming}`);
  const plan: JobPlan = {
    recipePath: join(dir, 'bench.lowbit.yaml'),
    modelPath: model,
    outputPath: join(out, 'model.onnx'),
    reportPath: join(out, 'model.report.json'),
    format: 'matmulnbits',
    calibration: { kind: 'random', samples: SAMPLES, seed: 0, mode: 'sequential' },
    evaluation: { kind: 'none', metrics: ['size'] },
    layers: names.map((name) => ({ name, method: 'awq', bits: 4, groupSize: 32, symmetric: false, settings: {}, rules: [0] })),
    skipped: [],
    threads: 1,
    seed: 0,
    memory: { streaming, cacheFolder: dir },
  };
  // A block ends with its last layer: wo (attention), w2 (MLP), output (head).
  // Wall time and this process's CPU time (all threads: onnxruntime runs with 1), which a loaded machine disturbs less.
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const ends: number[] = [],
    cpuEnds: number[] = [];
  let start = 0,
    cpuStart = 0;
  const report = await runJob(plan, {
    onProgress: (p) => {
      if (p.stage === 'quantize' && !start) [start, cpuStart] = [performance.now(), cpu()];
      if (p.stage === 'quantize' && p.fraction === 1 && p.layer && /(\.wo|\.w2|^output)$/.test(p.layer)) {
        ends.push(performance.now());
        cpuEnds.push(cpu());
      }
    },
  });
  const quantize = report.timings_s.calibrate + report.timings_s.quantize;
  const times = ends.map((t, i) => (t - (i ? ends[i - 1] : start)) / 1000);
  const body = times.slice(1, -1); // the first includes the job's set-up, the last is the head
  const cpuBody = cpuEnds.map((t, i) => (t - (i ? cpuEnds[i - 1] : cpuStart)) / 1000).slice(1, -1);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const r = {
    layers,
    path: streaming === 'always' ? 'streamed' : 'whole',
    blocks: ends.length,
    quantize_s: quantize,
    per_block_s: quantize / ends.length,
    first_blocks_s: mean(body.slice(0, 6)),
    last_blocks_s: mean(body.slice(-6)),
    cpu_per_block_s: mean(cpuBody),
    cpu_first_s: mean(cpuBody.slice(0, 6)),
    cpu_last_s: mean(cpuBody.slice(-6)),
  };
  console.log(
    `foldseq layers=${r.layers} path=${r.path} blocks=${r.blocks} quantize_s=${r.quantize_s.toFixed(1)} per_block_s=${r.per_block_s.toFixed(2)} first_blocks_s=${r.first_blocks_s.toFixed(2)} last_blocks_s=${r.last_blocks_s.toFixed(2)} cpu_per_block_s=${r.cpu_per_block_s.toFixed(2)} cpu_first_s=${r.cpu_first_s.toFixed(2)} cpu_last_s=${r.cpu_last_s.toFixed(2)}`,
  );
  return r;
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-bench-foldseq-'));
  try {
    for (const n of COUNTS) writeLlama(join(dir, `llama${n}.onnx`), { ...SHAPE, layers: n }, 1);
    const res: Awaited<ReturnType<typeof one>>[] = [];
    for (const n of COUNTS) for (const s of ['always', 'never'] as const) res.push(await one(dir, n, s));
    const [a, b] = COUNTS;
    for (const path of ['streamed', 'whole']) {
      const x = res.find((r) => r.layers === a && r.path === path)!,
        y = res.find((r) => r.layers === b && r.path === path)!;
      console.log(
        `  ${path}: quantize_s ${b}/${a} layers = ${(y.quantize_s / x.quantize_s).toFixed(2)} (linear: ${(b / a).toFixed(2)}); per block ${(y.per_block_s / x.per_block_s).toFixed(2)}×; last/first blocks at ${b} layers ${(y.last_blocks_s / y.first_blocks_s).toFixed(2)}×; CPU per block ${(y.cpu_per_block_s / x.cpu_per_block_s).toFixed(2)}×, CPU last/first ${(y.cpu_last_s / y.cpu_first_s).toFixed(2)}×`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
