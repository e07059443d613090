/**
 * A compression job: load → calibrate → quantize → export (atomic) → evaluate → report.
 * A cancelled or failed job leaves no output file (nor report) and never touches the input model.
 */
import { rm, stat } from 'node:fs/promises';
import type { JobPlan, JobProgress } from '../protocol/plan';
import type { QualityMetrics, Report } from '../protocol/report';
import { calibrate, statisticsView, type CalibratedLayer, type InputStatistics } from './calibrate/calibrate';
import { calibrationFeeds } from './calibrate/calibrationData';
import { resolveTextOffsets, textWindows } from './data/text';
import { evaluateText } from './evaluate/evaluateText';
import { evaluateTensors } from './evaluate/evaluateTensors';
import { evaluateImages } from './tasks/evaluateImages';
import { exportAndWrite } from './exportStep';
import { preflight } from './jobPreflight';
import { loadModel, type OnnxModel } from './onnx/model';
import { convTransposeLayout } from './onnx/layers';
import { quantizeLayers, type QuantizedLayer } from './quantize/quantizeLayers';
import { quantizeSequential } from './calibrate/sequential';
import { prepareActivationAware } from './quantize/activationAware';
import { buildReport } from './report/buildReport';
import { writeReport } from './report/writeReport';

export interface JobOptions {
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
}

/** Ops whose input activations can be streamed into a Hessian ([..., in]; Conv through im2col; ConvTranspose per pixel). */
export const CALIBRATED_OPS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);

/** Resolves the plan's layers against the model; errors name the recipe and the layer. */
export function planLayers(plan: JobPlan, model: OnnxModel): (CalibratedLayer & { op: string })[] {
  return plan.layers.map((l) => {
    const rec = model.layers.find((r) => r.name === l.name);
    if (!rec) throw new Error(`${plan.recipePath || plan.modelPath}: layer ${l.name} is not in ${plan.modelPath}`);
    if (!rec.quantizable) throw new Error(`layer ${l.name} is not quantizable: ${rec.reason ?? 'unsupported'}`);
    const conv = rec.op === 'Conv' ? { node: rec.node, attributes: rec.nodeRef.attribute, kernelDims: rec.ref.dims } : undefined;
    const convTranspose = rec.op === 'ConvTranspose' ? { node: rec.node, group: convTransposeLayout(rec).group } : undefined;
    return { name: l.name, input: rec.input, cols: rec.shape[1], op: rec.op, ...(conv ? { conv } : {}), ...(convTranspose ? { convTranspose } : {}) };
  });
}

export { statisticsView };

/** Runs calibration for the plan's MatMul/Gemm layers; returns the statistics and bookkeeping. */
export async function calibrateForPlan(plan: JobPlan, model: OnnxModel, opts: JobOptions & { calibrationOffset?: number }): Promise<{
  stats: Map<string, InputStatistics>; samples: number; tokens?: number; warnings: string[];
}> {
  // Layers whose input calibration cannot observe (inside subgraphs) are quantized data-free.
  const layers = planLayers(plan, model).filter((l) => CALIBRATED_OPS.has(l.op) && !model.layer(l.name).dataFree);
  const warnings: string[] = [];
  const skipped = plan.layers.length - layers.length;
  if (skipped) warnings.push(`${skipped} layer(s) have no calibration Hessian (op not in ${[...CALIBRATED_OPS].join('/')}, or an input calibration cannot observe: recurrent W/R, subgraphs); their rel_error is the plain weight error`);
  if (!layers.length) return { stats: new Map(), samples: 0, warnings };
  const feeds = await calibrationFeeds(plan.calibration, model.summary(), opts.calibrationOffset);
  warnings.push(...feeds.warnings);
  const stats = await calibrate({
    model, layers, batches: feeds.batches, threads: plan.threads, signal: opts.signal,
    onBatch: (done, total) => opts.onProgress?.({ stage: 'calibrate', message: `batch ${done}/${total}`, fraction: total ? done / total : undefined }),
  });
  return { stats, samples: feeds.samples, tokens: feeds.tokens, warnings };
}

/** Runs a whole job; see the file comment. Resolves with the report (also written to plan.reportPath). */
export async function runJob(plan: JobPlan, opts: JobOptions = {}): Promise<Report> {
  const { signal, onProgress } = opts;
  const t0 = performance.now();
  const timings = { load: 0, calibrate: 0, quantize: 0, export: 0, evaluate: 0, total: 0 };
  const lap = (k: keyof typeof timings, since: number) => { timings[k] = (performance.now() - since) / 1000; return performance.now(); };
  let wroteOutput = false, wroteReport = false;
  let wroteData: string | undefined;
  try {
    onProgress?.({ stage: 'load', message: `loading ${plan.modelPath}` });
    await preflight(plan);
    signal?.throwIfAborted();
    const model = await loadModel(plan.modelPath);
    const ops = new Map(planLayers(plan, model).map((l) => [l.name, l.op]));
    let t = lap('load', t0);

    const warnings: string[] = [];
    let calibrationOffset: number | undefined;
    let evaluationOffset: number | undefined;
    if (plan.calibration.kind === 'text') {
      const ev = plan.evaluation.kind === 'text' ? plan.evaluation : undefined;
      const r = await resolveTextOffsets(plan.calibration, ev);
      calibrationOffset = r.calibrationOffset;
      evaluationOffset = r.evaluationOffset;
      if (r.warning) warnings.push(r.warning);
    }
    onProgress?.({ stage: 'calibrate', message: `calibrating (${plan.calibration.kind}, ${plan.calibration.samples} samples)`, fraction: 0 });
    let cal: { samples: number; tokens?: number };
    let quantized: QuantizedLayer[];
    let outModel = model;
    if (plan.calibration.mode === 'sequential') {
      // Calibration and quantization interleave block by block; their time is counted as quantize.
      const calibrated = planLayers(plan, model).filter((l) => CALIBRATED_OPS.has(l.op));
      const feeds = calibrated.length ? await calibrationFeeds(plan.calibration, model.summary(), calibrationOffset) : { batches: [], samples: 0, warnings: [] };
      warnings.push(...feeds.warnings);
      cal = feeds;
      t = lap('calibrate', t);
      // AWQ / SmoothQuant / OS+ fold each block's transforms before the next block is calibrated.
      const seq = await quantizeSequential({ plan, model, ops, calibrated, batches: feeds.batches, signal, onProgress });
      warnings.push(...seq.warnings);
      outModel = seq.model;
      quantized = seq.layers;
    } else {
      const c = await calibrateForPlan(plan, model, { ...opts, calibrationOffset });
      warnings.push(...c.warnings);
      cal = c;
      t = lap('calibrate', t);
      // AWQ / SmoothQuant / OS+: fold the input scaling (and activation QDQ) before weight quantization.
      const prep = await prepareActivationAware({ layers: plan.layers, model, stats: c.stats, threads: plan.threads, signal });
      warnings.push(...prep.warnings);
      outModel = prep.model;
      quantized = await quantizeLayers({ plan, model: statisticsView(outModel, planLayers(plan, outModel)), ops, stats: prep.stats, prepared: prep.details, signal, onProgress });
    }
    t = lap('quantize', t);

    signal?.throwIfAborted();
    onProgress?.({ stage: 'export', message: `writing ${plan.outputPath} (${plan.format})` });
    wroteOutput = true;
    const exported = await exportAndWrite(outModel, quantized, plan, signal);
    wroteData = exported.dataPath;
    warnings.push(...exported.warnings);
    t = lap('export', t);

    onProgress?.({ stage: 'evaluate', message: 'evaluating FP vs compressed', fraction: 0 });
    const ev = await evaluate(plan, model, evaluationOffset, opts, warnings);
    t = lap('evaluate', t);
    signal?.throwIfAborted();

    timings.total = (performance.now() - t0) / 1000;
    const report = buildReport({
      plan, layers: quantized.map((q) => q.report), totalParams: model.summary().totalParams,
      fpBytes: (await stat(plan.modelPath)).size, quantizedBytes: exported.bytes,
      calibrationSamples: cal.samples, calibrationTokens: cal.tokens,
      fp: ev.fp, quantized: ev.quantized, klDivergence: ev.kl, top1Agreement: ev.top1, outputAgreement: ev.agreement, timings, warnings, leftAlone: exported.leftAlone,
    });
    signal?.throwIfAborted();
    wroteReport = true;
    await writeReport(report, plan.reportPath);
    onProgress?.({ stage: 'done', message: `wrote ${plan.outputPath} and ${plan.reportPath}`, fraction: 1 });
    return report;
  } catch (e) {
    if (wroteOutput) await rm(plan.outputPath, { force: true });
    if (wroteData) await rm(wroteData, { force: true });
    if (wroteReport) await rm(plan.reportPath, { force: true });
    throw e;
  }
}

async function evaluate(plan: JobPlan, model: OnnxModel, offset: number | undefined, opts: JobOptions, warnings: string[]): Promise<{
  fp: QualityMetrics; quantized: QualityMetrics; kl?: Report['metrics']['kl_divergence']; top1?: number;
  agreement?: Report['metrics']['output_agreement'];
}> {
  const e = plan.evaluation;
  if (e.kind === 'none') return { fp: {}, quantized: {} };
  if (e.kind === 'images') {
    const r = await evaluateImages(e, plan.modelPath, plan.outputPath, { threads: plan.threads, signal: opts.signal });
    return { fp: r.fp, quantized: r.quantized, agreement: r.outputAgreement };
  }
  if (e.kind === 'tensors') {
    const r = await evaluateTensors(e, { ...model.summary(), path: plan.modelPath }, plan.outputPath, { threads: plan.threads, signal: opts.signal });
    warnings.push(...r.warnings);
    return { fp: r.fp, quantized: r.quantized, agreement: r.outputAgreement };
  }
  const windows = await textWindows({ ...e, offset });
  if (windows.count < e.samples) warnings.push(`evaluation: ${e.textPath} holds only ${windows.count} windows of ${e.sequenceLength} tokens (asked for ${e.samples})`);
  const r = await evaluateText({
    fpModel: plan.modelPath, quantizedModel: plan.outputPath, windows, threads: plan.threads, signal: opts.signal,
    onBatch: (done, total) => opts.onProgress?.({ stage: 'evaluate', message: `batch ${done}/${total}`, fraction: done / total }),
  });
  const want = new Set(e.metrics);
  const fp: QualityMetrics = {}, quantized: QualityMetrics = {};
  if (want.has('perplexity')) { fp.perplexity = r.fp.perplexity; quantized.perplexity = r.quantized!.perplexity; }
  if (want.has('latency')) { fp.latency_ms = r.fp.latency_ms; quantized.latency_ms = r.quantized!.latency_ms; }
  return {
    fp, quantized,
    kl: want.has('kl_divergence') ? r.kl_divergence : undefined,
    top1: want.has('top1_agreement') ? r.top1_agreement : undefined,
  };
}
