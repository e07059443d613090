/**
 * Output agreement on text: FP vs compressed first outputs (an encoder's hidden states or
 * embeddings, a decoder's logits) over the same token windows, every input fed by the binding
 * rules. Cosine, SQNR (dB) and, when the output's last axis is a vocabulary (`logits`), argmax
 * agreement; latency is ms per batch after one warm-up batch.
 */
import type * as ort from 'onnxruntime-node';
import type { InputOverride } from '../../protocol/plan';
import type { QualityMetrics, Report } from '../../protocol/report';
import type { TextWindows } from '../data/text';
import { AgreementAccumulator } from '../tasks/agreement';
import { openSession, runTokens } from './ortSession';

export interface TextAgreement {
  fp: QualityMetrics;
  quantized: QualityMetrics;
  outputAgreement: NonNullable<Report['metrics']['output_agreement']>;
  /** The output compared. */
  output: string;
}

export async function evaluateTextAgreement(opts: {
  fpModel: string;
  quantizedModel: string;
  windows: TextWindows;
  threads: number;
  batchSize?: number;
  inputs?: Record<string, InputOverride>;
  signal?: AbortSignal;
  latency?: boolean;
}): Promise<TextAgreement> {
  const { windows } = opts;
  const L = windows.sequenceLength,
    bs = Math.max(1, opts.batchSize ?? 8);
  const fp = await openSession(opts.fpModel, opts.threads, opts.fpModel);
  let q: ort.InferenceSession | undefined;
  try {
    q = await openSession(opts.quantizedModel, opts.threads, opts.quantizedModel);
    const output = fp.outputNames[0];
    if (!q.outputNames.includes(output)) throw new Error(`${opts.quantizedModel}: has no output '${output}' (the FP model's first output)`);
    const run = (s: ort.InferenceSession, ids: BigInt64Array, nb: number) =>
      runTokens(s, ids, nb, L, output, opts.inputs, s === fp ? opts.fpModel : opts.quantizedModel);
    const warm = windows.ids.subarray(0, Math.min(bs, windows.count) * L);
    await run(fp, warm, warm.length / L);
    await run(q, warm, warm.length / L);
    const acc = new AgreementAccumulator();
    let fpMs = 0,
      qMs = 0,
      batches = 0;
    for (let b0 = 0; b0 < windows.count; b0 += bs) {
      opts.signal?.throwIfAborted();
      const nb = Math.min(bs, windows.count - b0);
      const ids = windows.ids.subarray(b0 * L, (b0 + nb) * L);
      let t = performance.now();
      const a = await run(fp, ids, nb);
      fpMs += performance.now() - t;
      t = performance.now();
      const b = await run(q, ids, nb);
      qMs += performance.now() - t;
      if (a.data.length !== b.data.length)
        throw new Error(`${opts.quantizedModel}: output ${output} shape [${b.dims}] differs from FP [${a.dims}]`);
      acc.add(a.data, b.data, output === 'logits' ? a.dims[a.dims.length - 1] : 0);
      batches++;
    }
    const r = acc.result();
    const lat = (ms: number): QualityMetrics => (opts.latency ? { latency_ms: ms / batches } : {});
    return {
      fp: lat(fpMs),
      quantized: lat(qMs),
      output,
      outputAgreement: { cosine: r.cosine, sqnr_db: r.sqnrDb, argmax_agreement: r.argmaxAgreement ?? 1 },
    };
  } finally {
    await fp.release();
    await q?.release();
  }
}
