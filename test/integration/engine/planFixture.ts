/**
 * JobPlans built directly (no recipe), with small sample counts to stay fast, on the Llama-like test
 * model (`llama`: stories260K when ../shared has it, else the self-made tiny model).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExportFormat, JobPlan, LayerPlan, Method } from '../../../protocol/plan';
import { llama, STORIES_LAYERS } from './sharedFixtures';

export { STORIES_LAYERS };

export function layerPlans(
  method: Method,
  bits: number,
  groupSize = 32,
  names = llama.layers,
  settings: Record<string, unknown> = {},
): LayerPlan[] {
  return names.map((name) => ({ name, method, bits, groupSize, symmetric: false, settings, rules: [0] }));
}

/** Temp folders of this test process, removed when it exits. */
const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A plan writing into a fresh temp folder (removed when the test process exits). */
export function storiesPlan(over: Partial<JobPlan> & { layers: LayerPlan[]; format?: ExportFormat }): JobPlan {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-job-'));
  dirs.push(dir);
  const outputPath = over.outputPath ?? join(dir, 'out.onnx');
  return {
    recipePath: join(dir, 'test.lowbit.yaml'),
    modelPath: llama.model,
    outputPath,
    reportPath: `${outputPath}.report.json`,
    format: 'matmulnbits',
    calibration: { kind: 'text', textPath: llama.text, tokenizerPath: llama.tokenizer, samples: 8, sequenceLength: 128, mode: 'parallel' },
    evaluation: {
      kind: 'text',
      textPath: llama.text,
      tokenizerPath: llama.tokenizer,
      samples: 8,
      sequenceLength: 256,
      metrics: ['perplexity', 'kl_divergence', 'top1_agreement', 'size', 'latency'],
    },
    skipped: [],
    threads: 1,
    seed: 0,
    ...over,
  };
}
