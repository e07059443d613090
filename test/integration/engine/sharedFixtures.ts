/**
 * Paths to the shared real data (../shared next to the repository, or LOWBIT_SHARED_DIR), and the
 * Llama-like model the quantize-path tests run on: stories260K when the shared data is there, else
 * the self-made tiny model (test/fixtures/tinyLlama.ts), so a clone outside this workspace still tests
 * the quantize path. `LOWBIT_SHARED_DIR=/nonexistent npm test -- test/integration/engine` runs the
 * suite as such a clone does.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeTinyLlama } from '../../fixtures/tinyLlama';

export const repoRoot = resolve(__dirname, '..', '..', '..');
export const sharedDir = process.env.LOWBIT_SHARED_DIR ? resolve(process.env.LOWBIT_SHARED_DIR) : resolve(repoRoot, '..', 'shared');
export const stories = {
  model: resolve(sharedDir, 'models/stories260K/model.onnx'),
  tokenizer: resolve(sharedDir, 'models/stories260K/tokenizer.json'),
  text: resolve(sharedDir, 'data/tinystories-sample.txt'),
};
/** A skip reason when the shared stories260K files are missing, else false. */
export const skipNoShared: string | false = [stories.model, stories.tokenizer, stories.text].every((p) => existsSync(p))
  ? false
  : `shared data not found at ${sharedDir} (stories260K model, tokenizer, tinystories text)`;

/** The head of a stories260K recipe (through `defaults:`, calibration from token 8192) that the budget tests share. */
export function storiesRecipeHead(o: {
  output: string;
  format: string;
  samples: number;
  sequenceLength: number;
  defaults: string;
}): string {
  return `version: 1
model: ${stories.model}
output: ${o.output}
format: ${o.format}
calibration:
  text: ${stories.text}
  tokenizer: ${stories.tokenizer}
  samples: ${o.samples}
  sequence_length: ${o.sequenceLength}
  offset: 8192
defaults: ${o.defaults}
`;
}

/** The 36 quantizable stories260K layers, in model order. */
export const STORIES_LAYERS = [
  ...Array.from({ length: 5 }, (_, i) => ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'].map((w) => `layers.${i}.${w}`)).flat(),
  'output',
];

export interface LlamaFixture {
  name: 'stories260K' | 'tiny-llama';
  model: string;
  tokenizer: string;
  text: string;
  /** Quantizable layers in model order. */
  layers: string[];
}

function tinyLlama(): LlamaFixture {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-tiny-llama-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const t = writeTinyLlama(dir);
  return { name: 'tiny-llama', model: t.model, tokenizer: t.tokenizer, text: t.text, layers: t.layerNames };
}

/** stories260K when ../shared has it, else the tiny model written into a temp folder for this process. */
export const llama: LlamaFixture = skipNoShared ? tinyLlama() : { name: 'stories260K', ...stories, layers: STORIES_LAYERS };

/**
 * Skip reason for the few checks that need a trained model: perplexity orderings at 4 bits and up,
 * where the tiny model (a bigram fit under random blocks) sits within quantization noise.
 */
export const skipNotTrained: string | false =
  llama.name === 'tiny-llama'
    ? "needs the trained stories260K: the tiny model's perplexity at 4 bits and up is within quantization noise"
    : false;
