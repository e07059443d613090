/**
 * A compression job: lock → load → calibrate → quantize → export (staged) → evaluate → report → commit.
 * The model, its external data and the report are staged next to the output and moved into place
 * together at the end (engine/outputCommit): a cancelled or failed job leaves exactly what was there
 * before, and never touches an input (recipe/jobPaths).
 */
import { stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { JobPlan, JobProgress, Metric } from '../protocol/plan';
import type { QualityMetrics, Report } from '../protocol/report';
import { calibrate, statisticsView, type CalibratedLayer, type InputStatistics } from './calibrate/calibrate';
import { calibrationFeeds, type CalibrationFeeds } from './calibrate/calibrationData';
import { resolveTextOffsets, textWindows, vocabOf } from './data/text';
import { evaluateText } from './evaluate/evaluateText';
import { evaluateDecoding } from './evaluate/decoding';
import { loadTokenizer } from './data/tokenizer';
import { DEFAULT_ACCURACY_LEVEL } from '../protocol/plan';
import { evaluateTextAgreement } from './evaluate/evaluateTextAgreement';
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
import { reportText, writeHistory } from './report/writeReport';
import { lockOutput } from './outputLock';
import { commitStaged, createStaging, removeStaging } from './outputCommit';
import { shareTiedTables } from './quantize/tiedTables';
import { planMemory } from './stream/memoryPlan';
import { streamCompress } from './stream/streamBlocks';
import { CodeSpill } from './stream/codeSpill';
import { memTrace } from './stream/memTrace';
import { rotateForPlan, rotationReport } from './transforms/rotationStep';

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
    return {
      name: l.name,
      input: rec.input,
      cols: rec.shape[1],
      op: rec.op,
      ...(l.method === 'jsq' ? { tokenSample: true } : {}),
      ...(conv ? { conv } : {}),
      ...(convTranspose ? { convTranspose } : {}),
    };
  });
}

export { statisticsView };

/** Runs calibration for the plan's MatMul/Gemm layers; returns the statistics and bookkeeping. */
export async function calibrateForPlan(
  plan: JobPlan,
  model: OnnxModel,
  opts: JobOptions & { calibrationOffset?: number; feeds?: CalibrationFeeds },
): Promise<{
  stats: Map<string, InputStatistics>;
  samples: number;
  tokens?: number;
  warnings: string[];
}> {
  // Layers whose input calibration cannot observe (inside subgraphs) are quantized data-free.
  const layers = planLayers(plan, model).filter((l) => CALIBRATED_OPS.has(l.op) && !model.layer(l.name).dataFree);
  const warnings: string[] = [];
  // Embedding tables (Gather) are lookups: they never have a Hessian, and that is not worth a warning.
  const skipped = plan.layers.length - layers.length - planLayers(plan, model).filter((l) => l.op === 'Gather').length;
  if (skipped)
    warnings.push(
      `${skipped} layer(s) have no calibration Hessian (op not in ${[...CALIBRATED_OPS].join('/')}, or an input calibration cannot observe: recurrent W/R, subgraphs); their rel_error is the plain weight error`,
    );
  if (!layers.length) return { stats: new Map(), samples: 0, warnings };
  const feeds = opts.feeds ?? (await calibrationFeeds(plan.calibration, model.summary(), opts.calibrationOffset, undefined, plan.inputs));
  warnings.push(...feeds.warnings);
  const stats = await calibrate({
    model,
    layers,
    batches: feeds.batches,
    threads: plan.threads,
    signal: opts.signal,
    onBatch: (done, total) =>
      opts.onProgress?.({ stage: 'calibrate', message: `batch ${done}/${total}`, fraction: total ? done / total : undefined }),
  });
  return { stats, samples: feeds.samples, tokens: feeds.tokens, warnings };
}

/** Runs a whole job; see the file comment. Resolves with the report (also written to plan.reportPath). */
export async function runJob(plan: JobPlan, opts: JobOptions = {}): Promise<Report> {
  const { signal, onProgress } = opts;
  const t0 = performance.now();
  const timings = { load: 0, calibrate: 0, quantize: 0, export: 0, evaluate: 0, total: 0 };
  const lap = (k: keyof typeof timings, since: number) => {
    timings[k] = (performance.now() - since) / 1000;
    return performance.now();
  };
  let staging: string | undefined;
  let release: (() => Promise<void>) | undefined;
  let codeSpill: CodeSpill | undefined;
  try {
    onProgress?.({ stage: 'load', message: `loading ${plan.modelPath}` });
    await preflight(plan);
    release = await lockOutput(plan.outputPath);
    signal?.throwIfAborted();
    const loaded = await loadModel(plan.modelPath);
    // The external data files are known once the model is parsed: none may be an output either.
    await preflight(plan, loaded.externalDataFiles());
    // Rotation (recipe `rotation:`) rewrites the weights before anything is calibrated; every later step sees the rotated model.
    const rotated = plan.rotation ? rotateForPlan(plan, loaded, onProgress) : undefined;
    const model = rotated?.model ?? loaded;
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
    onProgress?.({
      stage: 'calibrate',
      message: `calibrating (${plan.calibration.kind}, ${plan.calibration.samples} samples)`,
      fraction: 0,
    });
    let cal: { samples: number; tokens?: number };
    let quantized: QuantizedLayer[];
    let outModel = model;
    codeSpill = new CodeSpill(plan.memory?.cacheFolder ?? tmpdir());
    const { streamed, feeds: planned } = await streamIfPlanned(plan, model, ops, calibrationOffset, opts, codeSpill);
    if (streamed) {
      // Calibration and quantization interleave block by block; their time is counted as quantize.
      warnings.push(...streamed.warnings);
      cal = streamed;
      t = lap('calibrate', t);
      // AWQ / SmoothQuant / OS+ folded each block's scales into this model (the input model when none did).
      outModel = streamed.model;
      quantized = streamed.layers;
    } else if (plan.calibration.mode === 'sequential') {
      // Calibration and quantization interleave block by block; their time is counted as quantize.
      const calibrated = planLayers(plan, model).filter((l) => CALIBRATED_OPS.has(l.op) && !model.layer(l.name).dataFree);
      const feeds =
        planned ??
        (calibrated.length
          ? await calibrationFeeds(plan.calibration, model.summary(), calibrationOffset, undefined, plan.inputs)
          : { batches: [], samples: 0, warnings: [] });
      warnings.push(...feeds.warnings);
      cal = feeds;
      t = lap('calibrate', t);
      // AWQ / SmoothQuant / OS+ fold each block's transforms before the next block is calibrated.
      const seq = await quantizeSequential({ plan, model, ops, calibrated, batches: feeds.batches, signal, onProgress });
      warnings.push(...seq.warnings);
      outModel = seq.model;
      quantized = seq.layers;
    } else {
      const c = await calibrateForPlan(plan, model, { ...opts, calibrationOffset, feeds: planned });
      warnings.push(...c.warnings);
      cal = c;
      t = lap('calibrate', t);
      // AWQ / SmoothQuant / OS+: fold the input scaling (and activation QDQ) before weight quantization.
      const prep = await prepareActivationAware({ layers: plan.layers, model, stats: c.stats, threads: plan.threads, signal });
      warnings.push(...prep.warnings);
      outModel = prep.model;
      quantized = await quantizeLayers({
        plan,
        model: statisticsView(outModel, planLayers(plan, outModel)),
        ops,
        stats: prep.stats,
        prepared: prep.details,
        signal,
        onProgress,
      });
    }
    shareTiedTables(quantized, outModel);
    t = lap('quantize', t);
    memTrace('quantized, before export');

    signal?.throwIfAborted();
    onProgress?.({ stage: 'export', message: `writing ${plan.outputPath} (${plan.format})` });
    staging = await createStaging(plan.outputPath);
    const stagedOutput = join(staging, basename(plan.outputPath));
    const exported = await exportAndWrite(outModel, quantized, { ...plan, outputPath: stagedOutput }, signal);
    codeSpill.close();
    warnings.push(...exported.warnings);
    t = lap('export', t);

    onProgress?.({ stage: 'evaluate', message: 'evaluating FP vs compressed', fraction: 0 });
    const ev = await evaluate(plan, model, stagedOutput, evaluationOffset, opts, warnings);
    t = lap('evaluate', t);
    signal?.throwIfAborted();

    timings.total = (performance.now() - t0) / 1000;
    const report = buildReport({
      plan,
      layers: quantized.map((q) => q.report),
      totalParams: model.summary().totalParams,
      fpBytes: (await stat(plan.modelPath)).size,
      quantizedBytes: exported.bytes,
      calibrationSamples: cal.samples,
      calibrationTokens: cal.tokens,
      fp: ev.fp,
      quantized: ev.quantized,
      klDivergence: ev.kl,
      top1Agreement: ev.top1,
      outputAgreement: ev.agreement,
      timings,
      warnings,
      decodeLatency: ev.decodeLatency,
      generation: ev.generation,
      leftAlone: exported.leftAlone,
      rotation: rotated && rotationReport(rotated.record),
    });
    const stagedReport = join(staging, 'report.json');
    await writeFile(stagedReport, reportText(report), { flag: 'wx' });
    signal?.throwIfAborted();
    // Commit: external data first (the new .onnx refers to it), then the model, then its report.
    await commitStaged(staging, [
      ...(exported.dataPath ? [{ from: exported.dataPath, to: `${plan.outputPath}.data` }] : []),
      { from: stagedOutput, to: plan.outputPath },
      { from: stagedReport, to: plan.reportPath },
    ]);
    // The run is complete; a history copy that cannot be written is a warning, not a lost run.
    await writeHistory(report, plan.reportPath).catch((e: Error) =>
      onProgress?.({ stage: 'done', message: `warning: no history copy: ${e.message}` }),
    );
    onProgress?.({ stage: 'done', message: `wrote ${plan.outputPath} and ${plan.reportPath}`, fraction: 1 });
    return report;
  } finally {
    codeSpill?.close();
    await removeStaging(staging);
    await release?.();
  }
}

/**
 * Plans the job's memory (engine/stream/memoryPlan.ts) and, when the plan says so, runs calibration +
 * quantization streamed block by block. Otherwise `streamed` is undefined and the whole-model path
 * runs, on the calibration feeds built here.
 */
async function streamIfPlanned(
  plan: JobPlan,
  model: OnnxModel,
  ops: Map<string, string>,
  calibrationOffset: number | undefined,
  opts: JobOptions,
  codeSpill?: CodeSpill,
): Promise<{
  streamed?: { layers: QuantizedLayer[]; model: OnnxModel; samples: number; tokens?: number; warnings: string[] };
  feeds?: CalibrationFeeds;
}> {
  const calibrated = planLayers(plan, model).filter((l) => CALIBRATED_OPS.has(l.op) && !model.layer(l.name).dataFree);
  if (!calibrated.length) return {};
  const memory = plan.memory ?? { streaming: 'auto' };
  const feeds = await calibrationFeeds(plan.calibration, model.summary(), calibrationOffset, undefined, plan.inputs);
  const first = feeds.batches[0];
  const tokensPerBatch = first ? Math.max(...Object.values(first).map((t) => t.size)) : 0;
  const mem = planMemory({
    model,
    plan,
    calibrated,
    tokensPerBatch,
    budgetBytes: memory.budgetBytes,
    streaming: memory.streaming,
    sequential: plan.calibration.mode === 'sequential',
  });
  opts.onProgress?.({ stage: 'calibrate', message: mem.message, fraction: 0 });
  if (mem.mode === 'whole') return { feeds };
  const s = await streamCompress({
    plan,
    model,
    ops,
    calibrated,
    batches: feeds.batches,
    mode: plan.calibration.mode,
    signal: opts.signal,
    onProgress: opts.onProgress,
    cacheFolder: memory.cacheFolder ?? tmpdir(),
    cacheRamBytes: mem.cacheRamBytes,
    codeSpill,
  });
  return {
    streamed: {
      layers: s.layers,
      model: s.model,
      samples: feeds.samples,
      tokens: feeds.tokens,
      warnings: [...feeds.warnings, ...s.warnings],
    },
  };
}

async function evaluate(
  plan: JobPlan,
  model: OnnxModel,
  quantizedPath: string,
  offset: number | undefined,
  opts: JobOptions,
  warnings: string[],
): Promise<{
  fp: QualityMetrics;
  quantized: QualityMetrics;
  kl?: Report['metrics']['kl_divergence'];
  top1?: number;
  agreement?: Report['metrics']['output_agreement'];
  decodeLatency?: Report['metrics']['decode_latency'];
  generation?: Report['metrics']['generation'];
}> {
  const e = plan.evaluation;
  const accuracyLevel = plan.accuracyLevel ?? DEFAULT_ACCURACY_LEVEL;
  if (e.kind === 'none') return { fp: {}, quantized: {} };
  if (e.kind === 'images') {
    const r = await evaluateImages(e, plan.modelPath, quantizedPath, { threads: plan.threads, signal: opts.signal });
    return { fp: r.fp, quantized: r.quantized, agreement: r.outputAgreement };
  }
  if (e.kind === 'tensors') {
    const r = await evaluateTensors(e, { ...model.summary(), path: plan.modelPath }, quantizedPath, {
      threads: plan.threads,
      signal: opts.signal,
      accuracyLevel,
    });
    warnings.push(...r.warnings);
    return { fp: r.fp, quantized: r.quantized, agreement: r.outputAgreement };
  }
  const windows = await textWindows({ ...e, offset, vocab: vocabOf(model.summary(), plan.modelPath) });
  if (windows.count < e.samples)
    warnings.push(`evaluation: ${e.textPath} holds only ${windows.count} windows of ${e.sequenceLength} tokens (asked for ${e.samples})`);
  const want = new Set(e.metrics);
  // Encoders (and any model judged by its outputs): agreement of the first output on the same windows.
  const agreement = want.has('output_agreement')
    ? await evaluateTextAgreement({
        fpModel: plan.modelPath,
        quantizedModel: quantizedPath,
        windows,
        threads: plan.threads,
        inputs: plan.inputs,
        signal: opts.signal,
        latency: want.has('latency'),
      })
    : undefined;
  if (!['perplexity', 'kl_divergence', 'top1_agreement'].some((m) => want.has(m as Metric)))
    return { fp: agreement?.fp ?? {}, quantized: agreement?.quantized ?? {}, agreement: agreement?.outputAgreement };
  const r = await evaluateText({
    fpModel: plan.modelPath,
    quantizedModel: quantizedPath,
    windows,
    threads: plan.threads,
    signal: opts.signal,
    accuracyLevel,
    inputs: plan.inputs,
    onBatch: (done, total) => opts.onProgress?.({ stage: 'evaluate', message: `batch ${done}/${total}`, fraction: done / total }),
  });
  const fp: QualityMetrics = {},
    quantized: QualityMetrics = {};
  if (want.has('perplexity')) {
    fp.perplexity = r.fp.perplexity;
    quantized.perplexity = r.quantized!.perplexity;
  }
  if (want.has('latency')) {
    fp.latency_ms = r.fp.latency_ms;
    quantized.latency_ms = r.quantized!.latency_ms;
  }
  // Generation and prefill/decode latency decode token by token (through the KV cache when there is one).
  let decoding: Awaited<ReturnType<typeof evaluateDecoding>> = {};
  if (e.generate || want.has('latency')) {
    opts.onProgress?.({
      stage: 'evaluate',
      message: e.generate ? `generating ${e.generate.tokens} tokens with both models` : 'timing prefill and decode',
    });
    const tokenizer = await loadTokenizer(e.tokenizerPath);
    const promptIds = e.generate
      ? tokenizer.encode(e.generate.prompt)
      : Array.from(windows.ids.subarray(0, windows.sequenceLength), Number);
    decoding = await evaluateDecoding({
      fpModel: plan.modelPath,
      quantizedModel: quantizedPath,
      threads: plan.threads,
      accuracyLevel,
      inputs: plan.inputs,
      signal: opts.signal,
      generate: e.generate
        ? { prompt: e.generate.prompt, promptIds, tokens: e.generate.tokens, decode: (ids) => tokenizer.decode(ids) }
        : undefined,
      latency: want.has('latency') ? { promptIds, decodeTokens: e.generate?.tokens ?? 16 } : undefined,
    });
  }
  return {
    fp,
    quantized,
    kl: want.has('kl_divergence') ? r.kl_divergence : undefined,
    top1: want.has('top1_agreement') ? r.top1_agreement : undefined,
    decodeLatency: decoding.latency,
    generation: decoding.generation,
    agreement: agreement?.outputAgreement,
  };
}
