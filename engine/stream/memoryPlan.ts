/**
 * The memory plan, made before calibration: does the job fit the budget as one whole-model pass, or
 * streamed block by block, and how (blocks, the largest one, the activation cache's RAM share)?
 *
 * Estimates, from the model and the calibration batches (not measured; they err high):
 * - whole model: the process now + all weights (the onnxruntime session) + every quantized layer's
 *   fp32 weight and dequantized copy (held until export) + every distinct input's Hessian (fp64, ×2
 *   for the solve's working copy) + one batch of every layer input;
 * Sequential calibration streams whenever it can (even when the whole model fits): that is its linear path.
 * - streamed: the process now + the codes kept for export (one byte a weight plus fp32 scales per
 *   group) + the largest block's weights, fp32 copies, Hessians and one batch of its layer inputs.
 *   What is left of the budget is the activation cache's RAM share; beyond it the cache spills to disk.
 *   AWQ / SmoothQuant / OS+ / JSQ add, in each block, its layers' folded weights (the running model
 *   holds them while the block is quantized; then they are released, stream/releaseFolded.ts) and
 *   the rescaled copy of each folded group's Hessian; and, to the end, the folded weights of layers
 *   that are not quantized (a skipped reader of a scaled input, an unplanned linear that absorbs a
 *   scale), which the export writes in float.
 */
import { freemem } from 'node:os';
import type { JobPlan, LayerPlan } from '../../protocol/plan';
import type { CalibratedLayer } from '../calibrate/calibrate';
import type { OnnxModel } from '../onnx/model';
import { elemBytes } from '../onnx/model';
import { numel } from '../onnx/tensor';
import { planBlocks } from './streamBlocks';
import { foldStreamingObstacle } from './foldStreaming';
import { ACTIVATION_AWARE } from '../quantize/activationAware';
import { scaleGroups } from '../transforms';

export type StreamingMode = 'auto' | 'always' | 'never';

export interface MemoryPlan {
  budgetBytes: number;
  mode: 'whole' | 'streamed';
  wholeBytes: number;
  streamedBytes: number;
  /** RAM the activation cache may use (streamed mode). */
  cacheRamBytes: number;
  blocks: number;
  /** One line for the user: the budget, what fits and how. */
  message: string;
}

export function formatBytes(b: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (b >= 1000 && i < u.length - 1) {
    b /= 1000;
    i++;
  }
  return `${b.toFixed(b < 10 && i ? 1 : 0)} ${u[i]}`;
}

/**
 * Plans the job's memory. `budgetBytes` defaults to the memory the machine has free.
 * @throws Error naming the model when neither way fits (or streaming is asked for a method that cannot stream).
 */
export function planMemory(opts: {
  model: OnnxModel;
  plan: Pick<JobPlan, 'layers' | 'modelPath'>;
  calibrated: CalibratedLayer[];
  tokensPerBatch: number;
  budgetBytes?: number;
  streaming?: StreamingMode;
  processBytes?: number;
  /** Sequential calibration: streamed even when the whole model fits (one pass per block: linear, where
   *  the whole-model sequential path re-serializes the model for every block), unless a folding method that cannot stream this model (or GPTAQ, in parallel mode)
   *  needs the whole-model path. */
  sequential?: boolean;
}): MemoryPlan {
  const { model, calibrated } = opts;
  const streaming = opts.streaming ?? 'auto';
  const budget = opts.budgetBytes ?? freemem();
  const base = opts.processBytes ?? process.memoryUsage().rss;
  const plans = new Map<string, LayerPlan>(opts.plan.layers.map((l) => [l.name, l]));
  let weights = 0;
  for (const t of model.graph.initializer) weights += numel(t.dims, `${model.path}: tensor '${t.name}'`) * (elemBytes(t.dataType) ?? 0);
  const params = (n: string) => model.layer(n).params;
  const hessian = (ls: CalibratedLayer[]) =>
    [...new Map(ls.map((l) => [`${l.input}#${l.cols}`, l.cols])).values()].reduce((a, n) => a + 2 * 8 * n * n, 0);
  const inputs = (ls: CalibratedLayer[]) =>
    [...new Map(ls.map((l) => [l.input, l.cols])).values()].reduce((a, n) => a + 4 * n * opts.tokensPerBatch, 0);
  const codes = (names: string[]) =>
    names.reduce((a, n) => {
      const p = plans.get(n);
      const g = p && p.groupSize > 0 ? p.groupSize : model.layer(n).shape[1];
      return a + params(n) * (1 + 8 / g);
    }, 0);
  const all = opts.plan.layers.map((l) => l.name);
  const wholeBytes = base + weights + all.reduce((a, n) => a + 8 * params(n), 0) + hessian(calibrated) + inputs(calibrated);

  const blocks = calibrated.length ? planBlocks(model, calibrated) : [];
  const byName = new Map(calibrated.map((l) => [l.name, l]));
  // AWQ / SmoothQuant / OS+ / JSQ: the weights their folds rewrite. The running model holds a block's
  // until the block is quantized; those of layers that are not quantized stay until the export.
  const folding = opts.plan.layers.filter((l) => ACTIVATION_AWARE.has(l.method)).map((l) => l.name);
  const foldedLayers = new Set<string>();
  if (folding.length)
    for (const g of scaleGroups(model)) {
      if (!g.layers.some((n) => folding.includes(n))) continue;
      for (const n of g.layers) foldedLayers.add(n);
      if (g.producer.kind === 'linear') foldedLayers.add(g.producer.layer);
    }
  const foldedBytesOf = (names: Iterable<string>) =>
    [...names].reduce((a, n) => a + (foldedLayers.has(n) ? params(n) * (elemBytes(model.layer(n).ref.dataType) ?? 4) : 0), 0);
  const keptFoldedBytes = foldedBytesOf([...foldedLayers].filter((n) => !plans.has(n)));
  // GPTAQ: the cross statistic D (n×n fp64) next to each of its inputs' Hessians.
  const asymmetric = opts.plan.layers.filter((l) => l.method === 'gptq' && l.settings.asymmetric === true).map((l) => l.name);
  const crossBytes = (ls: CalibratedLayer[]) =>
    [...new Map(ls.filter((l) => asymmetric.includes(l.name)).map((l) => [`${l.input}#${l.cols}`, l.cols])).values()].reduce(
      (a, n) => a + 8 * n * n,
      0,
    );
  const foldedHessians = (ls: CalibratedLayer[]) =>
    [...new Map(ls.filter((l) => folding.includes(l.name)).map((l) => [`${l.input}#${l.cols}`, l.cols])).values()].reduce(
      (a, n) => a + 8 * n * n,
      0,
    );
  let largest = { bytes: 0, index: 0, span: '' };
  for (const b of blocks) {
    const ls = b.layers.map((n) => byName.get(n)!);
    const bytes =
      b.layers.reduce((a, n) => a + params(n) * ((elemBytes(model.layer(n).ref.dataType) ?? 4) + 8), 0) +
      hessian(ls) +
      foldedBytesOf(b.layers) +
      foldedHessians(ls) +
      crossBytes(ls) +
      inputs(ls);
    if (bytes > largest.bytes)
      largest = { bytes, index: b.index, span: b.layers.length > 1 ? `${b.layers[0]} … ${b.layers[b.layers.length - 1]}` : b.layers[0] };
  }
  const streamedBytes = base + codes(all) + keptFoldedBytes + largest.bytes;
  const fits = (n: number) => n <= budget;
  const head = `memory: budget ${formatBytes(budget)}${opts.budgetBytes === undefined ? ' (free now)' : ''}; whole model ~${formatBytes(wholeBytes)}`;
  // GPTAQ streams in sequential mode (a second cache carries the FP stream); it has no parallel mode.
  // AWQ / SmoothQuant / OS+ stream when each input group and what its scale folds into lie in one block.
  const gptaq = opts.sequential ? undefined : opts.plan.layers.find((l) => l.method === 'gptq' && l.settings.asymmetric === true);
  const obstacle = !gptaq && folding.length && blocks.length ? foldStreamingObstacle(model, blocks, opts.plan.layers) : undefined;
  const foldingLayer = gptaq ?? (obstacle ? opts.plan.layers.find((l) => ACTIVATION_AWARE.has(l.method)) : undefined);
  const foldingName = foldingLayer && (gptaq ? 'gptq asymmetric (GPTAQ)' : foldingLayer.method);
  let mode: MemoryPlan['mode'];
  if (streaming === 'never') mode = 'whole';
  else if (streaming === 'always') mode = 'streamed';
  else if (opts.sequential && blocks.length && !foldingLayer && fits(streamedBytes)) mode = 'streamed';
  else mode = fits(wholeBytes) || !blocks.length || foldingLayer ? 'whole' : 'streamed';
  if (mode === 'streamed' && foldingLayer)
    throw new Error(
      `${opts.plan.modelPath}: layer ${foldingLayer.name} uses ${foldingName}, which does not stream ${gptaq ? 'in parallel mode (it needs the float inputs too, which only sequential calibration collects)' : `here (${obstacle})`}; set memory.streaming: never`,
    );
  const cacheRamBytes = Math.max(0, budget - streamedBytes);
  if (mode === 'whole') {
    const why = streaming === 'never' ? 'streaming is off' : foldingLayer && !fits(wholeBytes) ? `${foldingName} does not stream` : 'fits';
    const message = `${head}: ${fits(wholeBytes) ? 'fits' : 'over budget'}, one whole-model pass (${why})`;
    return { budgetBytes: budget, mode, wholeBytes, streamedBytes, cacheRamBytes: 0, blocks: blocks.length, message };
  }
  if (!fits(streamedBytes) && streaming === 'auto') {
    throw new Error(
      `${opts.plan.modelPath}: does not fit the memory budget of ${formatBytes(budget)}: the whole model needs ~${formatBytes(wholeBytes)} and streaming ~${formatBytes(streamedBytes)} (largest block ${largest.index + 1}: ${largest.span}, ~${formatBytes(largest.bytes)}); raise memory.budget_mb or --memory`,
    );
  }
  const why = fits(wholeBytes) && streaming === 'auto' ? ' (sequential calibration: one pass per block)' : '';
  const folds = foldedLayers.size
    ? `; folded weights: one block's at a time${keptFoldedBytes ? `, plus ${formatBytes(keptFoldedBytes)} of unquantized layers kept for the export` : ''}`
    : '';
  const message =
    `${head}: streaming ${blocks.length} blocks${why}, ~${formatBytes(streamedBytes)} at most (largest block ${largest.index + 1}: ${largest.span}), ` +
    `activation cache ${formatBytes(cacheRamBytes)} in RAM, the rest on disk${folds}${fits(streamedBytes) ? '' : ' (over budget: streaming was asked for)'}`;
  return { budgetBytes: budget, mode, wholeBytes, streamedBytes, cacheRamBytes, blocks: blocks.length, message };
}
