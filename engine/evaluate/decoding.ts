/**
 * Evaluation that decodes token by token (see `Decoder`): greedy generation from a prompt with the FP
 * and the compressed model, and their prefill / per-token decode latency. Both go through the KV
 * cache when the graph has one, else through full-sequence re-runs (the report says which).
 */
import type * as ort from 'onnxruntime-node';
import type { DecodeLatency, GenerationReport } from '../../protocol/report';
import { Decoder, greedy, argmaxRow } from './decoder';
import { openSession } from './ortSession';
import type { InputOverride } from '../../recipe/inputBinding';

export interface DecodingOptions {
  fpModel: string;
  quantizedModel: string;
  threads: number;
  /** The compressed model's QDQ→MatMulNBits accuracy level (see `openSession`). */
  accuracyLevel?: number;
  /** The recipe's `inputs:` overrides of the input rule table. */
  inputs?: Record<string, InputOverride>;
  /** Greedy generation: prompt ids, their text, the number of new tokens, and a detokenizer. */
  generate?: { prompt: string; promptIds: number[]; tokens: number; decode: (ids: number[]) => string };
  /** Latency: prefill of `promptIds`, then `decodeTokens` single-token steps; `reps` timed runs (median). */
  latency?: { promptIds: number[]; decodeTokens: number; reps?: number };
  signal?: AbortSignal;
}

/** Index of the first position where the two id lists differ (a length difference counts); null when equal. */
export function firstDivergence(a: readonly number[], b: readonly number[]): number | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return null;
}

const median = (v: number[]): number => {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Times one decoder: an untimed warm-up (prefill + one step), then `reps` runs of prefill followed by
 * `decodeTokens` greedy steps. Returns the median prefill and the median single step: medians, because
 * on a shared machine a few steps take 10× longer (scheduling), and a mean would report those.
 */
export async function timeDecoder(
  decoder: Decoder,
  promptIds: readonly number[],
  decodeTokens: number,
  reps = 5,
  signal?: AbortSignal,
): Promise<{ prefill_ms: number; decode_ms_per_token: number }> {
  const warm = await decoder.prefill(promptIds);
  await decoder.step(argmaxRow(warm));
  const prefill: number[] = [],
    steps: number[] = [];
  for (let r = 0; r < Math.max(1, reps); r++) {
    signal?.throwIfAborted();
    let t = performance.now();
    let row = await decoder.prefill(promptIds);
    prefill.push(performance.now() - t);
    for (let i = 0; i < decodeTokens; i++) {
      t = performance.now();
      row = await decoder.step(argmaxRow(row));
      steps.push(performance.now() - t);
    }
  }
  return { prefill_ms: median(prefill), decode_ms_per_token: steps.length ? median(steps) : 0 };
}

/** Runs generation and/or latency on both models; sessions are released before it returns. */
export async function evaluateDecoding(o: DecodingOptions): Promise<{ generation?: GenerationReport; latency?: DecodeLatency }> {
  const sessions: ort.InferenceSession[] = [];
  try {
    const fpS = await openSession(o.fpModel, o.threads, o.fpModel);
    sessions.push(fpS);
    const qS = await openSession(o.quantizedModel, o.threads, o.quantizedModel, undefined, o.accuracyLevel ?? 0);
    sessions.push(qS);
    const fp = new Decoder(fpS, o.fpModel, o.inputs),
      q = new Decoder(qS, o.quantizedModel, o.inputs);
    if (fp.mode !== q.mode)
      throw new Error(
        `${o.quantizedModel}: decodes ${q.mode.replace('_', ' ')} but the FP model ${fp.mode.replace('_', ' ')}; the compressed model must keep the KV cache inputs and outputs`,
      );
    const result: { generation?: GenerationReport; latency?: DecodeLatency } = {};
    if (o.generate) {
      const g = o.generate;
      const a = await greedy(fp, g.promptIds, g.tokens, o.signal);
      const b = await greedy(q, g.promptIds, g.tokens, o.signal);
      result.generation = {
        prompt: g.prompt,
        prompt_tokens: g.promptIds.length,
        tokens: g.tokens,
        mode: fp.mode,
        fp: { text: g.decode(a), ids: a },
        quantized: { text: g.decode(b), ids: b },
        first_divergence: firstDivergence(a, b),
      };
    }
    if (o.latency) {
      const l = o.latency;
      const tf = await timeDecoder(fp, l.promptIds, l.decodeTokens, l.reps, o.signal);
      const tq = await timeDecoder(q, l.promptIds, l.decodeTokens, l.reps, o.signal);
      result.latency = {
        mode: fp.mode,
        prompt_tokens: l.promptIds.length,
        decode_tokens: l.decodeTokens,
        threads: o.threads,
        fp: tf,
        quantized: tq,
      };
    }
    return result;
  } finally {
    for (const s of sessions) await s.release();
  }
}
