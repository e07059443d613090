/**
 * Language-model evaluation: FP vs compressed on held-out token windows with onnxruntime-node.
 * Perplexity is next-token NLL within each window (position t predicts token t+1; the first token of a
 * window is never predicted, no BOS is added). KL(FP‖Q), top-1 agreement are per predicted position.
 * Latency is the mean wall time of one batch after one untimed warm-up batch.
 */
import type * as ort from 'onnxruntime-node';
import type { TextWindows } from '../data/text';
import type { InputOverride } from '../../protocol/plan';
import { openSession, runTokens } from './ortSession';
import { AgreementMeter, PerplexityMeter, argmax, logSoftmax } from './tokenMetrics';

export interface TextEvaluation {
  fp: { perplexity: number; latency_ms: number };
  quantized?: { perplexity: number; latency_ms: number };
  kl_divergence?: { mean: number; p50: number; p99: number; max: number };
  top1_agreement?: number;
  /** Predicted positions evaluated. */
  tokens: number;
}

/**
 * Evaluates the FP model and (when given) the compressed model on the same windows, batch by batch.
 * Never holds more than one batch of logits per model.
 */
export async function evaluateText(opts: {
  fpModel: string | Uint8Array;
  quantizedModel?: string | Uint8Array;
  windows: TextWindows;
  batchSize?: number;
  threads?: number;
  /** The folder external-data locations of models given as bytes are resolved from (see `openSession`). */
  externalDataDir?: string;
  /** The compressed model's QDQ→MatMulNBits accuracy level (see `openSession`; default 0 = exact). */
  accuracyLevel?: number;
  signal?: AbortSignal;
  /** The recipe's `inputs:` overrides of the input-binding rules. */
  inputs?: Record<string, InputOverride>;
  onBatch?: (done: number, total: number) => void;
}): Promise<TextEvaluation> {
  const { windows } = opts;
  const batchSize = Math.max(1, opts.batchSize ?? 8);
  const fpSession = await openSession(opts.fpModel, opts.threads ?? 0, labelOf(opts.fpModel, 'FP model'), opts.externalDataDir);
  let qSession: ort.InferenceSession | undefined;
  try {
    if (opts.quantizedModel !== undefined) {
      qSession = await openSession(
        opts.quantizedModel,
        opts.threads ?? 0,
        labelOf(opts.quantizedModel, 'compressed model'),
        opts.externalDataDir,
        opts.accuracyLevel,
      );
    }
    const L = windows.sequenceLength;
    const fpLabel = labelOf(opts.fpModel, 'FP model'),
      qLabel = labelOf(opts.quantizedModel ?? '', 'compressed model');
    const run = (s: ort.InferenceSession, ids: BigInt64Array, nb: number) =>
      runTokens(s, ids, nb, L, undefined, opts.inputs, s === fpSession ? fpLabel : qLabel);
    const fpPpl = new PerplexityMeter(),
      qPpl = new PerplexityMeter(),
      agree = new AgreementMeter();
    let fpMs = 0,
      qMs = 0,
      batches = 0;
    // One untimed warm-up run per session, so latency excludes first-run initialization.
    const warm = windows.ids.subarray(0, Math.min(batchSize, windows.count) * L);
    await run(fpSession, warm, warm.length / L);
    if (qSession) await run(qSession, warm, warm.length / L);
    for (let b0 = 0; b0 < windows.count; b0 += batchSize) {
      opts.signal?.throwIfAborted();
      const nb = Math.min(batchSize, windows.count - b0);
      const ids = windows.ids.subarray(b0 * L, (b0 + nb) * L);
      let t = performance.now();
      const fp = await run(fpSession, ids, nb);
      fpMs += performance.now() - t;
      let q: { data: Float32Array; dims: readonly number[] } | undefined;
      if (qSession) {
        t = performance.now();
        q = await run(qSession, ids, nb);
        qMs += performance.now() - t;
      }
      const vocab = fp.dims[fp.dims.length - 1];
      if (fp.dims.length !== 3 || fp.dims[1] !== L)
        throw new Error(`FP model: logits have shape [${fp.dims}], expected [${nb}, ${L}, vocab]`);
      if (q && (q.dims.length !== 3 || q.dims[2] !== vocab))
        throw new Error(`compressed model: logits have shape [${q.dims}], expected [${nb}, ${L}, ${vocab}]`);
      const lp = new Float64Array(vocab),
        lq = new Float64Array(vocab);
      for (let s = 0; s < nb; s++) {
        for (let p = 0; p < L - 1; p++) {
          const row = (s * L + p) * vocab;
          const target = Number(ids[s * L + p + 1]);
          logSoftmax(fp.data, row, vocab, lp);
          fpPpl.add(lp, target);
          if (q) {
            logSoftmax(q.data, row, vocab, lq);
            qPpl.add(lq, target);
            agree.add(lp, lq, argmax(fp.data, row, vocab), argmax(q.data, row, vocab));
          }
        }
      }
      batches++;
      opts.onBatch?.(b0 + nb, windows.count);
    }
    const result: TextEvaluation = { fp: { perplexity: fpPpl.perplexity, latency_ms: fpMs / batches }, tokens: fpPpl.tokens };
    if (qSession) {
      result.quantized = { perplexity: qPpl.perplexity, latency_ms: qMs / batches };
      result.kl_divergence = agree.klSummary();
      result.top1_agreement = agree.top1Agreement;
    }
    return result;
  } finally {
    await fpSession.release();
    await qSession?.release();
  }
}

function labelOf(model: string | Uint8Array, fallback: string): string {
  return typeof model === 'string' ? model : fallback;
}
