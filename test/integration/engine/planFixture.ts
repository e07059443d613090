/** JobPlans for stories260K built directly (no recipe), with small sample counts to stay fast. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExportFormat, JobPlan, LayerPlan, Method } from '../../../language-server/src/protocol/plan';
import { stories } from './sharedFixtures';

/** The 36 quantizable stories260K layers, in model order. */
export const STORIES_LAYERS = [
  ...Array.from({ length: 5 }, (_, i) => ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'].map((w) => `layers.${i}.${w}`)).flat(),
  'output',
];

export function layerPlans(method: Method, bits: number, groupSize = 32, names = STORIES_LAYERS, settings: Record<string, unknown> = {}): LayerPlan[] {
  return names.map((name) => ({ name, method, bits, groupSize, symmetric: false, settings, rules: [0] }));
}

/** Temp folders of this test process, removed when it exits. */
const dirs: string[] = [];
process.on('exit', () => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A plan writing into a fresh temp folder (removed when the test process exits). */
export function storiesPlan(over: Partial<JobPlan> & { layers: LayerPlan[]; format?: ExportFormat }): JobPlan {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-job-'));
  dirs.push(dir);
  const outputPath = over.outputPath ?? join(dir, 'out.onnx');
  return {
    recipePath: join(dir, 'test.lowbit.yaml'),
    modelPath: stories.model,
    outputPath,
    reportPath: `${outputPath}.report.json`,
    format: 'matmulnbits',
    calibration: { kind: 'text', textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 8, sequenceLength: 128, mode: 'parallel' },
    evaluation: { kind: 'text', textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 8, sequenceLength: 256, metrics: ['perplexity', 'kl_divergence', 'top1_agreement', 'size', 'latency'] },
    skipped: [],
    threads: 1,
    seed: 0,
    ...over,
  };
}
