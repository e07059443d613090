/**
 * Block-streaming calibration + quantization: the model is cut into blocks (partition.ts); each block
 * runs as its own onnxruntime session over a subgraph whose weights stay where they are (external data
 * loaded in place), on the activations the previous blocks left in the {@link ActivationCache}. As soon
 * as a block's statistics are complete its layers are quantized and its Hessians dropped, so at most
 * one block's weights, Hessians and activations are in memory at once.
 *
 * - parallel: one FP pass per block gives both its statistics and the next blocks' inputs;
 * - sequential: the FP pass gives the statistics, then a second pass of the block with its
 *   fake-quantized weights gives the next blocks' inputs (one pass more per block: linear, where the
 *   whole-model path re-serializes and re-runs the model for every block).
 * Both give the statistics, and so the codes, of the whole-model path (tested on stories260K).
 */
import type * as ort from 'onnxruntime-node';
import type { JobPlan, JobProgress } from '../../protocol/plan';
import {
  accumulateBatch,
  statisticsKey,
  statisticsKeys,
  statisticsView,
  type CalibratedLayer,
  type Feeds,
  type InputStatistics,
} from '../calibrate/calibrate';
import { openSession } from '../evaluate/ortSession';
import { returnLargeFrees, trimHeaps } from '../../native/ts/index';
import { exportModelProto } from '../export/exportModel';
import type { OnnxModel } from '../onnx/model';
import { encodeModel, type ModelProto } from '../onnx/onnxProto';
import { quantizeLayers, type QuantizedLayer } from '../quantize/quantizeLayers';
import { ActivationCache } from './activationCache';
import type { CodeSpill } from './codeSpill';
import { blockModel, elemTypeOf } from './blockModel';
import { partitionGraph, type StreamBlock } from './partition';
import { releaseDequant } from './releaseDequant';

/** Methods whose scales fold into neighbouring layers across the whole model: not streamed yet. */
const FOLDING_METHODS = new Set(['awq', 'smoothquant', 'osplus', 'jsq']);

export interface StreamOptions {
  plan: Pick<JobPlan, 'layers' | 'format' | 'threads'>;
  model: OnnxModel;
  ops: Map<string, string>;
  /** The plan's calibrated layers (input tensor, `in` size, Conv geometry). */
  calibrated: CalibratedLayer[];
  batches: Feeds[];
  mode: 'parallel' | 'sequential';
  /** Where the activation cache makes its private folder, and how much of it may stay in RAM. */
  cacheFolder: string;
  cacheRamBytes: number;
  /** Where finished blocks' codes wait for the export (the caller closes it after the export). */
  codeSpill?: CodeSpill;
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
}

export interface StreamResult {
  /** Quantized layers in plan order. */
  layers: QuantizedLayer[];
  blocks: number;
  cache: { peakRamBytes: number; diskBytesWritten: number; peakDiskBytes: number };
}

/** The blocks for a plan's calibrated layers. */
export function planBlocks(model: OnnxModel, calibrated: CalibratedLayer[]): StreamBlock[] {
  return partitionGraph(
    model.graph,
    calibrated.map((l) => ({ name: l.name, node: model.layer(l.name).nodeRef, input: l.input })),
  );
}

/** Runs the streamed calibration + quantization; see the file comment. The cache is removed on every exit. */
export async function streamCompress(opts: StreamOptions): Promise<StreamResult> {
  const { plan, model, signal } = opts;
  const threads = plan.threads ?? 0;
  for (const l of plan.layers) {
    if (FOLDING_METHODS.has(l.method))
      throw new Error(
        `layer ${l.name}: ${l.method} folds scales across blocks and is not available in streamed mode yet (set memory.streaming: never, or a larger memory.budget_mb)`,
      );
  }
  const blocks = planBlocks(model, opts.calibrated);
  const byName = new Map(opts.calibrated.map((l) => [l.name, l]));
  const planned = new Map(plan.layers.map((l, i) => [l.name, { l, i }]));
  const lastReader = new Map<string, number>();
  blocks.forEach((b) => {
    for (const x of b.inputs) lastReader.set(x, b.index);
  });
  const cache = new ActivationCache(opts.cacheFolder, opts.cacheRamBytes);
  cache.open();
  // Freed blocks go back to the OS, not into glibc's heaps (native/ts/processMemory.ts): else RSS creeps up block by block.
  returnLargeFrees();
  opts.codeSpill?.open();
  const done: QuantizedLayer[] = [];
  const t0 = performance.now();
  const params = (b: StreamBlock) => b.layers.reduce((a, n) => a + model.layer(n).params, 0);
  const totalParams = blocks.reduce((a, b) => a + params(b), 0);
  let doneParams = 0;
  try {
    for (const block of blocks) {
      signal?.throwIfAborted();
      const elapsed = (performance.now() - t0) / 1000;
      const eta = doneParams ? ` · ETA ${formatSeconds((elapsed * (totalParams - doneParams)) / doneParams)}` : '';
      const layers = block.layers.map((n) => byName.get(n)!);
      // Reported as the quantize stage, so the job's progress only moves forward (block by block).
      const tag = `block ${block.index + 1} of ${blocks.length}`;
      opts.onProgress?.({
        stage: 'quantize',
        layer: block.layers[0],
        index: planned.get(block.layers[0])!.i,
        total: plan.layers.length,
        fraction: 0,
        message: `${tag}: ${layerSpan(block.layers)}${eta}`,
      });
      const keys = statisticsKeys(layers);
      const stats = new Map<string, InputStatistics>();
      const layerInputs = [...new Set(layers.map((l) => l.input))];
      // Statistics pass (FP weights); in parallel mode it also produces what later blocks read.
      const carriedNow = opts.mode === 'parallel' ? block.carried : [];
      await runBlock(model.proto, block, [...new Set([...layerInputs, ...carriedNow])], opts, cache, async (j, out) => {
        await accumulateBatch(stats, keys, out, threads);
        for (const c of carriedNow) await cache.put(c, j, out[c]);
      });
      for (const l of layers) stats.get(statisticsKey(l))?.layers.push(l.name);
      const blockPlans = block.layers.map((n) => planned.get(n)!.l);
      const q = await quantizeLayers({
        plan: { layers: blockPlans, format: plan.format, threads: plan.threads },
        model: statisticsView(model, layers),
        ops: opts.ops,
        stats,
        signal,
        onProgress: (p) =>
          opts.onProgress?.(
            p.stage === 'quantize'
              ? { ...p, message: `${tag} · ${p.message}${eta}`, index: planned.get(blockPlans[p.index].name)!.i, total: plan.layers.length }
              : p,
          ),
      });
      stats.clear();
      if (opts.mode === 'sequential' && block.carried.length) {
        // The next blocks read this block's output with its weights fake-quantized.
        const fake = exportModelProto(
          model,
          q.map((r) => ({ layer: r.layer, dequant: r.dequant, lowRank: r.lowRank as never, inputScale: r.inputScale })),
          { format: 'fake' },
        ).proto;
        await runBlock(fake, block, block.carried, opts, cache, async (j, out) => {
          for (const c of block.carried) await cache.put(c, j, out[c]);
        });
      }
      // The block's dequantized weights become recomputing getters; their codes go to disk until the export.
      for (const r of q) if (releaseDequant(r)) opts.codeSpill?.spill(r);
      done.push(...q);
      doneParams += params(block);
      for (const x of block.inputs) if (lastReader.get(x) === block.index) await cache.drop(x);
      trimHeaps();
    }
  } finally {
    cache.close();
  }
  // Layers of ops without calibration statistics (none today: every quantizable op is calibrated).
  const rest = plan.layers.filter((l) => !done.some((d) => d.layer === l.name));
  if (rest.length)
    done.push(
      ...(await quantizeLayers({
        plan: { layers: rest, format: plan.format, threads: plan.threads },
        model,
        ops: opts.ops,
        stats: new Map(),
        signal,
      })),
    );
  done.sort((a, b) => planned.get(a.layer)!.i - planned.get(b.layer)!.i);
  return {
    layers: done,
    blocks: blocks.length,
    cache: { peakRamBytes: cache.peakRamBytes, diskBytesWritten: cache.diskBytesWritten, peakDiskBytes: cache.peakDiskBytes },
  };
}

/**
 * Runs `block` of `proto` over every calibration batch and hands each batch's outputs to `use`.
 * Its inputs come from the batch (graph inputs) or the cache (tensors of earlier blocks).
 */
async function runBlock(
  proto: ModelProto,
  block: StreamBlock,
  outputs: string[],
  opts: StreamOptions,
  cache: ActivationCache,
  use: (batch: number, out: Record<string, ort.Tensor>) => Promise<void>,
): Promise<void> {
  const types = new Map<string, number>();
  for (const x of block.inputs) {
    const t = cache.type(x);
    if (t) types.set(x, elemTypeOf(t));
  }
  const sub = blockModel(proto, { index: block.index, inputs: block.inputs, outputs }, types);
  opts.model.checkExternalData();
  const session = await openSession(
    encodeModel(sub, opts.model.path),
    opts.plan.threads ?? 0,
    `${opts.model.path} block ${block.index + 1}`,
    opts.model.externalDataDir,
  );
  try {
    for (let j = 0; j < opts.batches.length; j++) {
      opts.signal?.throwIfAborted();
      const feeds = await blockFeeds(
        block,
        sub.graph!.input.map((i) => i.name),
        opts.batches[j],
        cache,
        j,
      );
      await use(j, await session.run(feeds, outputs));
    }
  } finally {
    await session.release();
  }
}

/**
 * A block's feeds for batch `j`: the model's own inputs from the calibration batch, tensors of
 * earlier blocks from the cache. (Every block is fed this way, the first one included.)
 */
export async function blockFeeds(block: StreamBlock, names: string[], batch: Feeds, cache: ActivationCache, j: number): Promise<Feeds> {
  const feeds: Feeds = {};
  for (const name of names) {
    if (name in batch) feeds[name] = batch[name];
    else if (cache.has(name)) feeds[name] = await cache.get(name, j);
    else throw new Error(`block ${block.index + 1}: its input ${name} is neither a calibration input nor produced by an earlier block`);
  }
  return feeds;
}

function layerSpan(names: string[]): string {
  return names.length <= 2 ? names.join(', ') : `${names[0]} … ${names[names.length - 1]} (${names.length} layers)`;
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}
