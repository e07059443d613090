/**
 * `npm run bench -- flrq`: the FLRQ authors' code (github.com/grysgreat/Sketch_lopro, run in place by
 * bench/flrqReference.py under /usr/bin/python3 + Debian's python3-torch) next to Lowbit's FLRQ on
 * stories260K, with the windows of docs/results.md (calibration 16×128 from token 8192, evaluation
 * 64×128 from token 0; LOWBIT_BENCH_EVAL_SAMPLES overrides the 64). The reference's fake-quantized
 * weights are written into the ONNX model (`fake`) and evaluated by the same onnxruntime evaluator as
 * ours, so both rows are measured the same way. The reference is found in LOWBIT_FLRQ_REFERENCE (a
 * checkout) or the fetched mirror /work/.mirror/grysgreat+Sketch_lopro/repo; when it or the Python
 * (with torch) is missing the bench says so plainly and prints only our rows. Each reference variant
 * takes minutes on CPU; LOWBIT_BENCH_FLRQ_REFERENCE=0 skips them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel } from '../engine/onnx/model';
import { textWindows } from '../engine/data/text';
import { exportModel } from '../engine/export';
import { evaluateText } from '../engine/evaluate/evaluateText';
import { stories, skipNoShared } from '../test/integration/engine/sharedFixtures';
import { BODY_LAYERS, envEvalSetup, measure, type QualityConfig } from './qualityConfigs';

/** A file's bytes as float32 (a copy: small Buffers share Node's pool). */
const f32 = (b: Buffer): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

const PYTHON = '/usr/bin/python3';
const MIRROR = '/work/.mirror/grysgreat+Sketch_lopro/repo';

function findReference(): { dir: string; source: string; cleanup?: () => void } | { why: string } {
  const env = process.env.LOWBIT_FLRQ_REFERENCE;
  if (env && existsSync(join(env, 'r1_sketch.py'))) return { dir: env, source: env };
  if (!existsSync(MIRROR))
    return {
      why: "the FLRQ authors' repository is not present (set LOWBIT_FLRQ_REFERENCE to a checkout, or fetch github:grysgreat/Sketch_lopro)",
    };
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-flrq-ref-'));
  try {
    execFileSync('sh', ['-c', `git --git-dir "${MIRROR}" archive HEAD | tar -x -C "${dir}"`]);
    const commit = execFileSync('git', ['--git-dir', MIRROR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    return { dir, source: `${MIRROR} @ ${commit}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { why: `the mirror ${MIRROR} could not be read: ${(e as Error).message.split('\n')[0]}` };
  }
}

interface Row {
  id: string;
  ranks: number[];
  ppl: number;
  kl: number;
  top1: number;
  note?: string;
}

function fmt(r: Row): string {
  const avg = r.ranks.reduce((a, b) => a + b, 0) / r.ranks.length;
  return `| ${r.id} | ${avg.toFixed(2)} (${Math.min(...r.ranks)}–${Math.max(...r.ranks)}) | ${r.ppl.toFixed(3)} | ${r.kl.toFixed(4)} | ${(100 * r.top1).toFixed(1)}% |${r.note ? ` ${r.note}` : ''}`;
}

/** Runs one reference variant and evaluates its weights with our evaluator. */
async function reference(dir: string, work: string, variant: string, ratio: number, evalSamples: number): Promise<Row> {
  const t0 = performance.now();
  execFileSync(PYTHON, [resolve(__dirname, 'flrqReference.py'), dir, work, variant, '3', '32', String(ratio)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, STORIES_BIN: resolve(stories.model, '..', 'stories260K.bin') },
    maxBuffer: 1 << 24,
  });
  const res = JSON.parse(readFileSync(join(work, 'result.json'), 'utf8')) as { ranks: number[]; ppl: number; fp_ppl: number };
  const model = await loadModel(stories.model);
  const fp = f32(readFileSync(join(work, 'fp.f32')));
  const q = f32(readFileSync(join(work, 'quant.f32')));
  let off = 0,
    maxDiff = 0;
  const results = BODY_LAYERS.map((layer) => {
    const w = model.getWeight(layer),
      n = w.rows * w.cols;
    for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(fp[off + i] - w.data[i]));
    const dequant = q.slice(off, off + n);
    off += n;
    return { layer, dequant };
  });
  if (off !== q.length) throw new Error(`reference wrote ${q.length} weights, the 35 layers have ${off}`);
  if (maxDiff !== 0) throw new Error(`the reference's stories260K weights differ from the ONNX initializers (max |Δ| ${maxDiff})`);
  const bytes = exportModel(model, results, { format: 'fake' }).bytes;
  const windows = await textWindows({
    textPath: stories.text,
    tokenizerPath: stories.tokenizer,
    samples: evalSamples,
    sequenceLength: 128,
  });
  const ev = await evaluateText({ fpModel: stories.model, quantizedModel: bytes, windows, threads: 2 });
  console.error(
    `  reference ${variant} x=${ratio}: ${((performance.now() - t0) / 1000).toFixed(1)} s, its own ppl ${res.ppl.toFixed(3)} (fp ${res.fp_ppl.toFixed(3)})`,
  );
  return {
    id: `reference ${variant}, x=${ratio}`,
    ranks: res.ranks,
    ppl: ev.quantized!.perplexity,
    kl: ev.kl_divergence!.mean,
    top1: ev.top1_agreement!,
    note: `(its torch evaluator: ${res.ppl.toFixed(3)}, fp ${res.fp_ppl.toFixed(3)} vs ours ${ev.fp.perplexity.toFixed(3)})`,
  };
}

/** Lowbit's FLRQ rows measured next to the reference (same windows). */
export const OURS: QualityConfig[] = [
  { id: 'ours flrq, x=0.2', method: 'flrq', bits: 3, groupSize: 32, format: 'packed', settings: { max_extra_storage: 0.2 } },
  { id: 'ours flrq, x=1', method: 'flrq', bits: 3, groupSize: 32, format: 'packed', settings: { max_extra_storage: 1 } },
  { id: 'ours gptq (asymmetric, no low rank)', method: 'gptq', bits: 3, groupSize: 32, format: 'packed' },
];

export async function main(): Promise<void> {
  if (skipNoShared) {
    console.log(`skipped: ${skipNoShared}`);
    return;
  }
  const setup = envEvalSetup();
  console.log(
    `FLRQ w3 g32 on stories260K vs the authors' code; calibration ${setup.calibSamples}×128 from ${setup.calibOffset}, evaluation ${setup.evalSamples}×128 from 0`,
  );
  console.log('| run | rank mean (min–max) | ppl | KL mean | top-1 |\n|---|---|---|---|---|');
  for (const c of OURS) {
    const r = await measure(c, setup);
    console.log(fmt({ id: c.id, ranks: r.ranks ?? BODY_LAYERS.map(() => 0), ppl: r.ppl, kl: r.kl, top1: r.top1 }));
  }
  const ref = findReference();
  if ('why' in ref) {
    console.log(`reference not run: ${ref.why}`);
    return;
  }
  if (!existsSync(PYTHON)) {
    console.log(`reference not run: ${PYTHON} is not installed`);
    ref.cleanup?.();
    return;
  }
  try {
    execFileSync(PYTHON, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
  } catch {
    console.log(`reference not run: torch / numpy are not installed for ${PYTHON} (apt-get install python3-torch)`);
    ref.cleanup?.();
    return;
  }
  if (process.env.LOWBIT_BENCH_FLRQ_REFERENCE === '0') {
    console.log('reference not run: LOWBIT_BENCH_FLRQ_REFERENCE=0 (each variant takes minutes on CPU)');
    ref.cleanup?.();
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'lowbit-flrq-work-'));
  try {
    const calib = await textWindows({
      textPath: stories.text,
      tokenizerPath: stories.tokenizer,
      samples: setup.calibSamples,
      sequenceLength: 128,
      offset: setup.calibOffset,
    });
    const ev = await textWindows({
      textPath: stories.text,
      tokenizerPath: stories.tokenizer,
      samples: setup.evalSamples,
      sequenceLength: 128,
    });
    writeFileSync(join(work, 'calib.i32'), Int32Array.from(calib.ids, Number));
    writeFileSync(join(work, 'eval.i32'), Int32Array.from(ev.ids, Number));
    writeFileSync(join(work, 'meta.json'), JSON.stringify({ calib: calib.count, eval: ev.count, seq: 128, layers: BODY_LAYERS }));
    for (const [variant, ratio] of [
      ['gptq-norot', 0.2],
      ['gptq', 0.2],
      ['gptq-norot', 1],
    ] as const) {
      try {
        console.log(fmt(await reference(ref.dir, work, variant, ratio, setup.evalSamples)));
      } catch (e) {
        console.log(`| reference ${variant}, x=${ratio} | failed: ${(e as Error).message.split('\n').slice(-3).join(' ')} |`);
      }
    }
    console.log(`reference: ${ref.source}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
    ref.cleanup?.();
  }
}
