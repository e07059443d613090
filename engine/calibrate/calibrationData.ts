/**
 * Calibration feeds per plan kind. Text: token windows (engine/data/text.ts). Random: seeded uniform
 * token ids for a token-id model. Images and tensors (.npy/.npz): engine/data/imagesFeeds.ts.
 */
import type { CalibrationPlan } from '../../protocol/plan';
import type { ModelSummary } from '../../protocol/model';
import { textWindows, vocabOf } from '../data/text';
import { visionCalibrationFeeds } from '../data/imagesFeeds';
import { bindInputs, tokenInputName, type InputBinding, type InputOverride } from '../../recipe/inputBinding';
import { tokenFeeds } from '../data/inputFeeds';
import type { Feeds } from './calibrate';

export interface CalibrationFeeds {
  batches: Feeds[];
  samples: number;
  /** Tokens seen (token models). */
  tokens?: number;
  warnings: string[];
}

/** mulberry32: a small deterministic PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds the calibration batches for `plan` (batch size 8 windows). */
export async function calibrationFeeds(
  plan: CalibrationPlan,
  summary: ModelSummary,
  offset: number | undefined,
  batchSize = 8,
  inputs?: Record<string, InputOverride>,
): Promise<CalibrationFeeds> {
  const vision = await visionCalibrationFeeds(plan, summary, batchSize);
  if (vision) return vision;
  if (!summary.inputs.length) throw new Error(`${summary.path}: the model has no graph input to calibrate with`);
  const bindings = bindInputs(summary, inputs);
  const input = summary.inputs.find((i) => i.name === tokenInputName(bindings))!;
  switch (plan.kind) {
    case 'text': {
      if (input.dtype !== 'int64' && input.dtype !== 'int32')
        throw new Error(`${summary.path}: text calibration needs an int64 or int32 token input, but ${input.name} is ${input.dtype}`);
      const w = await textWindows({ ...plan, offset, vocab: vocabOf(summary, summary.path) });
      const warnings =
        w.count < plan.samples
          ? [
              `calibration: ${plan.textPath} holds only ${w.count} windows of ${plan.sequenceLength} tokens after offset ${w.offset} (asked for ${plan.samples})`,
            ]
          : [];
      return {
        batches: tokenBatches(bindings, w.ids, w.count, w.sequenceLength, batchSize, summary.path),
        samples: w.count,
        tokens: w.count * w.sequenceLength,
        warnings,
      };
    }
    case 'random': {
      if (input.dtype !== 'int64')
        throw new Error(`${summary.path}: random calibration is only available for token-id (int64) models in this build`);
      const logits = summary.outputs.find((o) => o.name === 'logits') ?? summary.outputs[0];
      const vocab = logits?.dims.at(-1);
      const seq = input.dims[1];
      if (typeof vocab !== 'number' || vocab < 1)
        throw new Error(`${summary.path}: cannot tell the vocabulary size from output ${logits?.name}`);
      const L = typeof seq === 'number' && seq > 0 ? seq : 128;
      const rnd = seededRandom(plan.seed);
      const ids = new BigInt64Array(plan.samples * L);
      for (let i = 0; i < ids.length; i++) ids[i] = BigInt(Math.floor(rnd() * vocab));
      return {
        batches: tokenBatches(bindings, ids, plan.samples, L, batchSize, summary.path),
        samples: plan.samples,
        tokens: ids.length,
        warnings: [],
      };
    }
    default:
      throw new Error(`calibration kind "${plan.kind}" is not available in this build of the engine pipeline`);
  }
}

/** Splits token windows into [b, L] feed batches, every input fed by its binding. */
export function tokenBatches(
  bindings: readonly InputBinding[],
  ids: BigInt64Array,
  count: number,
  seq: number,
  batchSize: number,
  path?: string,
): Feeds[] {
  const out: Feeds[] = [];
  for (let b0 = 0; b0 < count; b0 += batchSize) {
    const nb = Math.min(batchSize, count - b0);
    out.push(tokenFeeds(bindings, ids.slice(b0 * seq, (b0 + nb) * seq), nb, seq, path));
  }
  return out;
}
