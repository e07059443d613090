/**
 * The `images` evaluation kind: FP vs compressed on an image set, for any single-input vision model.
 * Metrics: `cer` (CTC text recognizers, labels = text), `accuracy` (classifiers, labels = class
 * index; top-1 and top-5), `output_agreement` (cosine, SQNR dB, argmax agreement), `latency`.
 * Pipeline hook (engine/job.ts `evaluate`):
 *   if (e.kind === 'images') return evaluateImages(e, plan.modelPath, plan.outputPath, { threads: plan.threads, signal: opts.signal });
 * and put `outputAgreement` into report.metrics.output_agreement.
 */
import * as ort from 'onnxruntime-node';
import type { EvaluationPlan } from '../../protocol/plan';
import type { QualityMetrics, Report } from '../../protocol/report';
import { listImages, loadImage, preprocessImage, PADDLE_REC_MAX_WIDTH } from '../data/images';
import { AgreementAccumulator } from './agreement';
import { ctcGreedyDecode, loadCharset, paddleOcrAsset } from './ctc';
import { characterErrorRate } from './cer';
import { topKAccuracy } from './classify';

type ImagesEvaluation = Extract<EvaluationPlan, { kind: 'images' }>;

/** What the job puts into the report. */
export interface ImagesEvaluationResult {
  fp: QualityMetrics;
  quantized: QualityMetrics;
  outputAgreement?: NonNullable<Report['metrics']['output_agreement']>;
  /** Per image (OCR: decoded texts), for the CLI/webview. */
  samples: { path: string; label?: string; fp?: string; quantized?: string }[];
}

/**
 * Runs both models image by image. Argmax agreement is along the class axis: the last axis for
 * rank ≤ 3 outputs ([N, C], [N, T, C]), axis 1 for maps [N, C, H, W]; a one-channel map (e.g. a
 * text-detection probability map) counts pixels on the same side of 0.5.
 */
export async function evaluateImages(
  e: ImagesEvaluation,
  fpModel: string,
  quantizedModel: string,
  opts: { threads?: number; signal?: AbortSignal; dictionary?: string } = {},
): Promise<ImagesEvaluationResult> {
  const want = new Set(e.metrics);
  const set = listImages(e.path, e.labelsPath).slice(0, e.samples);
  if ((want.has('cer') || want.has('accuracy')) && !e.labelsPath)
    throw new Error(`${e.path}: metrics cer/accuracy need labels (evaluate.labels)`);
  const so: ort.InferenceSession.SessionOptions = opts.threads ? { intraOpNumThreads: opts.threads } : {};
  const fp = await ort.InferenceSession.create(fpModel, so);
  const q = await ort.InferenceSession.create(quantizedModel, so);
  const charset = want.has('cer') ? loadCharset(opts.dictionary ?? paddleOcrAsset('ppocr_keys_v1.txt')) : undefined;
  const acc = new AgreementAccumulator();
  const time = { fp: 0, q: 0 };
  const texts = { fp: [] as string[], q: [] as string[] };
  const logits = { fp: [] as Float32Array[], q: [] as Float32Array[] };
  let classes = 0;
  try {
    for (const item of set) {
      opts.signal?.throwIfAborted();
      const t = preprocessImage(await loadImage(item.path), e.image, e.image.width < 0 ? PADDLE_REC_MAX_WIDTH : Infinity);
      const feeds = { [fp.inputNames[0]]: new ort.Tensor('float32', t.data, t.dims) };
      let t0 = performance.now();
      const a = (await fp.run(feeds))[fp.outputNames[0]];
      time.fp += performance.now() - t0;
      t0 = performance.now();
      const b = (await q.run(feeds))[q.outputNames[0]];
      time.q += performance.now() - t0;
      const da = a.data as Float32Array,
        db = b.data as Float32Array;
      if (da.length !== db.length)
        throw new Error(`${quantizedModel}: output shape [${b.dims}] differs from FP [${a.dims}] on ${item.path}`);
      addAgreement(acc, da, db, a.dims);
      classes = a.dims[a.dims.length - 1];
      if (charset) {
        if (a.dims.length !== 3) throw new Error(`${fpModel}: cer needs a CTC output [1, T, C], got [${a.dims}]`);
        texts.fp.push(ctcGreedyDecode(da, a.dims[1], a.dims[2], charset).text);
        texts.q.push(ctcGreedyDecode(db, b.dims[1], b.dims[2], charset).text);
      }
      if (want.has('accuracy')) {
        logits.fp.push(da.slice());
        logits.q.push(db.slice());
      }
    }
  } finally {
    await fp.release();
    await q.release();
  }
  const fpM: QualityMetrics = {};
  const qM: QualityMetrics = {};
  const labels = set.map((s) => s.label ?? '');
  if (charset) {
    fpM.cer = characterErrorRate(texts.fp, labels);
    qM.cer = characterErrorRate(texts.q, labels);
  }
  if (want.has('accuracy')) {
    const ids = labels.map((l, i) => {
      const v = Number(l);
      if (!Number.isInteger(v) || v < 0 || v >= classes)
        throw new Error(`${e.labelsPath}: label "${l}" of ${set[i].path} is not a class index in [0, ${classes})`);
      return v;
    });
    const ka = topKAccuracy(concat(logits.fp), classes, ids);
    const kb = topKAccuracy(concat(logits.q), classes, ids);
    Object.assign(fpM, { accuracy_top1: ka[1], accuracy_top5: ka[5] });
    Object.assign(qM, { accuracy_top1: kb[1], accuracy_top5: kb[5] });
  }
  if (want.has('latency') && set.length) {
    fpM.latency_ms = time.fp / set.length;
    qM.latency_ms = time.q / set.length;
  }
  const r = acc.result();
  return {
    fp: fpM,
    quantized: qM,
    outputAgreement: want.has('output_agreement')
      ? { cosine: r.cosine, sqnr_db: r.sqnrDb, argmax_agreement: r.argmaxAgreement ?? 1 }
      : undefined,
    samples: set.map((s, i) => ({ path: s.path, label: s.label, fp: texts.fp[i], quantized: texts.q[i] })),
  };
}

function addAgreement(acc: AgreementAccumulator, a: Float32Array, b: Float32Array, dims: readonly number[]): void {
  acc.addValues(a, b);
  if (dims.length <= 3) {
    acc.addArgmax(a, b, dims[dims.length - 1]);
    return;
  }
  const c = dims[1];
  const hw = dims.slice(2).reduce((x, y) => x * y, 1);
  const n = dims[0];
  // Regroup [N, C, HW] → rows of C per pixel so argmax runs over channels; 1 channel → [1 − p, p].
  const width = c === 1 ? 2 : c;
  const ra = new Float32Array(n * hw * width),
    rb = new Float32Array(n * hw * width);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < hw; p++)
      for (let k = 0; k < width; k++) {
        const src = c === 1 ? i * hw + p : (i * c + k) * hw + p;
        const row = (i * hw + p) * width + k;
        ra[row] = c === 1 && k === 0 ? 1 - a[src] : a[src];
        rb[row] = c === 1 && k === 0 ? 1 - b[src] : b[src];
      }
  acc.addArgmax(ra, rb, width);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
