/**
 * The `tensors` evaluation kind: FP vs compressed on .npy/.npz/folder inputs (engine/data/npyArchive),
 * for any model. Metrics: `output_agreement` on the first output (cosine, SQNR dB, argmax agreement
 * along the last axis) and `latency` (ms per batch). No task metric: tensors carry no labels.
 */
import type { EvaluationPlan } from '../../protocol/plan';
import type { ModelSummary } from '../../protocol/model';
import type { QualityMetrics, Report } from '../../protocol/report';
import { tensorCalibrationFeeds } from '../data/imagesFeeds';
import { AgreementAccumulator } from '../tasks/agreement';
import { openSession } from './ortSession';

type TensorsEvaluation = Extract<EvaluationPlan, { kind: 'tensors' }>;

/** What the job puts into the report. */
export interface TensorsEvaluationResult {
  fp: QualityMetrics;
  quantized: QualityMetrics;
  outputAgreement?: NonNullable<Report['metrics']['output_agreement']>;
  samples: number;
  warnings: string[];
}

/**
 * Runs both models batch by batch on the arrays of `e.path` and compares their first outputs.
 * @throws Error naming the compressed model when its output shape or dtype differs from FP's.
 */
export async function evaluateTensors(
  e: TensorsEvaluation,
  summary: Pick<ModelSummary, 'path' | 'inputs'>,
  quantizedModel: string,
  opts: { threads: number; signal?: AbortSignal; accuracyLevel?: number },
): Promise<TensorsEvaluationResult> {
  const want = new Set(e.metrics);
  const set = tensorCalibrationFeeds(e, summary);
  const fp = await openSession(summary.path, opts.threads, summary.path);
  const q = await openSession(quantizedModel, opts.threads, quantizedModel, undefined, opts.accuracyLevel);
  const acc = new AgreementAccumulator();
  const time = { fp: 0, q: 0 };
  try {
    for (const feeds of set.batches) {
      opts.signal?.throwIfAborted();
      const name = fp.outputNames[0];
      let t0 = performance.now();
      const a = (await fp.run(feeds, [name]))[name];
      time.fp += performance.now() - t0;
      t0 = performance.now();
      const b = (await q.run(feeds, [name]))[name];
      time.q += performance.now() - t0;
      if (a.type !== 'float32' || b.type !== 'float32')
        throw new Error(`${quantizedModel}: output ${name} is ${b.type} (FP ${a.type}); output agreement needs float32 outputs`);
      const da = a.data as Float32Array,
        db = b.data as Float32Array;
      if (da.length !== db.length) throw new Error(`${quantizedModel}: output ${name} shape [${b.dims}] differs from FP [${a.dims}]`);
      const classes = a.dims[a.dims.length - 1] ?? 0;
      acc.add(da, db, classes > 1 ? classes : 0);
    }
  } finally {
    await fp.release();
    await q.release();
  }
  const fpM: QualityMetrics = {},
    qM: QualityMetrics = {};
  if (want.has('latency') && set.batches.length) {
    fpM.latency_ms = time.fp / set.batches.length;
    qM.latency_ms = time.q / set.batches.length;
  }
  const r = set.batches.length ? acc.result() : undefined;
  return {
    fp: fpM,
    quantized: qM,
    samples: set.samples,
    warnings: set.warnings.map((w) => w.replace(/^calibration:/, 'evaluation:')),
    outputAgreement:
      want.has('output_agreement') && r ? { cosine: r.cosine, sqnr_db: r.sqnrDb, argmax_agreement: r.argmaxAgreement ?? 1 } : undefined,
  };
}
