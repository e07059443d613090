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
 */
import { freemem } from 'node:os';
import type { JobPlan, LayerPlan } from '../../protocol/plan';
import type { CalibratedLayer } from '../calibrate/calibrate';
import type { OnnxModel } from '../onnx/model';
import { elemBytes } from '../onnx/model';
import { numel } from '../onnx/tensor';
import { planBlocks } from './streamBlocks';

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

/** Folding methods run only whole-model (streamCompress refuses them). */
const WHOLE_ONLY = new Set(['awq', 'smoothquant', 'osplus', 'jsq']);

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
   *  the whole-model sequential path re-serializes the model for every block), unless a folding method
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
  let largest = { bytes: 0, index: 0, span: '' };
  for (const b of blocks) {
    const ls = b.layers.map((n) => byName.get(n)!);
    const bytes =
      b.layers.reduce((a, n) => a + params(n) * ((elemBytes(model.layer(n).ref.dataType) ?? 4) + 8), 0) + hessian(ls) + inputs(ls);
    if (bytes > largest.bytes)
      largest = { bytes, index: b.index, span: b.layers.length > 1 ? `${b.layers[0]} … ${b.layers[b.layers.length - 1]}` : b.layers[0] };
  }
  const streamedBytes = base + codes(all) + largest.bytes;
  const fits = (n: number) => n <= budget;
  const head = `memory: budget ${formatBytes(budget)}${opts.budgetBytes === undefined ? ' (free now)' : ''}; whole model ~${formatBytes(wholeBytes)}`;
  const foldingLayer = opts.plan.layers.find((l) => WHOLE_ONLY.has(l.method) || (l.method === 'gptq' && l.settings.asymmetric === true));
  // GPTAQ needs float inputs next to the quantized-prefix ones, which the block stream does not cache.
  const foldingName = foldingLayer && (WHOLE_ONLY.has(foldingLayer.method) ? foldingLayer.method : 'gptq asymmetric (GPTAQ)');
  let mode: MemoryPlan['mode'];
  if (streaming === 'never') mode = 'whole';
  else if (streaming === 'always') mode = 'streamed';
  else if (opts.sequential && blocks.length && !foldingLayer && fits(streamedBytes)) mode = 'streamed';
  else mode = fits(wholeBytes) || !blocks.length || foldingLayer ? 'whole' : 'streamed';
  if (mode === 'streamed' && foldingLayer)
    throw new Error(
      `${opts.plan.modelPath}: layer ${foldingLayer.name} uses ${foldingName}, which does not stream yet (${WHOLE_ONLY.has(foldingLayer.method) ? 'its scales fold across blocks' : 'it needs the float inputs too'}); set memory.streaming: never`,
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
  const message =
    `${head}: streaming ${blocks.length} blocks${why}, ~${formatBytes(streamedBytes)} at most (largest block ${largest.index + 1}: ${largest.span}), ` +
    `activation cache ${formatBytes(cacheRamBytes)} in RAM, the rest on disk${fits(streamedBytes) ? '' : ' (over budget: streaming was asked for)'}`;
  return { budgetBytes: budget, mode, wholeBytes, streamedBytes, cacheRamBytes, blocks: blocks.length, message };
}
