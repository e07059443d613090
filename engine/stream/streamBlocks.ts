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
 *
 * AWQ / SmoothQuant / OS+ (quantize/activationAware.ts) run per block between its statistics and its
 * quantization: the block's scales are searched on its statistics and folded into a running copy of
 * the model (into a norm or linear of the same block, or an inserted Mul; foldStreaming.ts says when
 * that is possible), whose weights the block's layers are then quantized from. Earlier blocks'
 * layers are frozen (a fold never changes a quantized weight). In sequential mode the block's
 * statistics pass and its fake-quant pass run on that running model, as the whole-model sequential
 * path does; in parallel mode the statistics and the carried activations come from the FP model, as
 * one whole-model calibration pass does. The running model (every fold, activation QDQ) is the one
 * the job exports. Once a block is quantized, its layers' folded weights are released from the running
 * model (rebuilt if read: releaseFolded.ts), so it holds one block's folded weights at a time.
 *
 * GPTAQ (gptq asymmetric, sequential only) also needs the FP model's inputs of its layers: a second
 * activation cache carries the FP stream (each block run with FP weights on FP inputs, one more pass
 * per block), and a GPTAQ block's statistics pass runs its session on both streams, batch by batch,
 * for the cross statistic D. Before anything is quantized (the first block) D = 0, as in sequential.ts.
 */
import type * as ort from 'onnxruntime-node';
import type { JobPlan, JobProgress } from '../../protocol/plan';
import {
  accumulateBatch,
  accumulateCross,
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
import { FoldReplay, releaseFoldedWeights } from './releaseFolded';
import { ACTIVATION_AWARE, prepareActivationAware, viaMulWarnings, type PreparedDetails } from '../quantize/activationAware';
import type { FoldedGroup } from '../transforms';
import { foldStreamingObstacle } from './foldStreaming';
import { CrossStatistic } from '../../native/ts/index';
import { memTrace } from './memTrace';

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
  /** The model the layers belong to: the input model with every block's AWQ / SmoothQuant / OS+ folds (the input model itself when there are none). */
  model: OnnxModel;
  warnings: string[];
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
  const blocks = planBlocks(model, opts.calibrated);
  const folding = plan.layers.some((l) => ACTIVATION_AWARE.has(l.method));
  const obstacle = folding ? foldStreamingObstacle(model, blocks, plan.layers) : undefined;
  if (obstacle)
    throw new Error(`${model.path}: ${obstacle}; AWQ / SmoothQuant / OS+ cannot stream this model (set memory.streaming: never)`);
  const byName = new Map(opts.calibrated.map((l) => [l.name, l]));
  const planned = new Map(plan.layers.map((l, i) => [l.name, { l, i }]));
  const lastReader = new Map<string, number>();
  blocks.forEach((b) => {
    for (const x of b.inputs) lastReader.set(x, b.index);
  });
  // GPTAQ: the FP stream in a cache of its own (half of the RAM share each).
  const isGptaq = (n: string) => {
    const l = planned.get(n)?.l;
    return !!l && l.method === 'gptq' && l.settings.asymmetric === true;
  };
  const gptaq = opts.mode === 'sequential' && plan.layers.some((l) => isGptaq(l.name));
  const cache = new ActivationCache(opts.cacheFolder, gptaq ? Math.floor(opts.cacheRamBytes / 2) : opts.cacheRamBytes);
  const fpCache = gptaq ? new ActivationCache(opts.cacheFolder, Math.floor(opts.cacheRamBytes / 2)) : undefined;
  cache.open();
  try {
    fpCache?.open();
  } catch (e) {
    cache.close();
    throw e;
  }
  // Freed blocks go back to the OS, not into glibc's heaps (native/ts/processMemory.ts): else RSS creeps up block by block.
  returnLargeFrees();
  opts.codeSpill?.open();
  const done: QuantizedLayer[] = [];
  // The running model: the input model with the folds of every block so far (folding methods only).
  let current = model;
  const frozen = new Set<string>();
  const viaMul: FoldedGroup[] = [];
  // A fold may rename a layer's input (inserted Mul / activation QDQ): always ask the running model.
  const inCurrent = (l: CalibratedLayer): CalibratedLayer => (folding ? { ...l, input: current.layerInput(l.name) } : l);
  const t0 = performance.now();
  const params = (b: StreamBlock) => b.layers.reduce((a, n) => a + model.layer(n).params, 0);
  const totalParams = blocks.reduce((a, b) => a + params(b), 0);
  let doneParams = 0;
  try {
    for (const block of blocks) {
      signal?.throwIfAborted();
      const elapsed = (performance.now() - t0) / 1000;
      const eta = doneParams ? ` · ETA ${formatSeconds((elapsed * (totalParams - doneParams)) / doneParams)}` : '';
      const layers = block.layers.map((n) => inCurrent(byName.get(n)!));
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
      memTrace(`${tag} start`);
      const keys = statisticsKeys(layers);
      let stats = new Map<string, InputStatistics>();
      const layerInputs = [...new Set(layers.map((l) => l.input))];
      // Statistics pass (this block's FP weights; sequential: on the running model, whose earlier
      // blocks are folded); in parallel mode it also produces what later blocks read.
      const carriedNow = opts.mode === 'parallel' ? block.carried : [];
      const statsProto = opts.mode === 'parallel' ? model.proto : current.proto;
      // GPTAQ after the first block: the same session also runs the FP stream, for D.
      const blockGptaq = fpCache && block.layers.some(isGptaq);
      const cross = blockGptaq && done.length ? fpCache : undefined;
      await runBlock(
        statsProto,
        block,
        [...new Set([...layerInputs, ...carriedNow])],
        opts,
        cache,
        async (j, out, fp) => {
          await accumulateBatch(stats, keys, out, threads, j + 1);
          if (fp) accumulateCross(stats, keys, fp, out, threads, j + 1);
          for (const c of carriedNow) await cache.put(c, j, out[c]);
        },
        cross,
      );
      for (const l of layers) stats.get(statisticsKey(l))?.layers.push(l.name);
      // Nothing quantized before this block: x̃ = x, so D = 0 exactly.
      if (blockGptaq && !done.length)
        for (const l of layers) {
          const st = l.conv || l.convTranspose ? undefined : stats.get(statisticsKey(l));
          if (st) st.cross ??= new CrossStatistic(st.n);
        }
      memTrace(`${tag} statistics done`);
      const blockPlans = block.layers.map((n) => planned.get(n)!.l);
      let prepared: Map<string, PreparedDetails> | undefined;
      let quantLayers = layers;
      let replay: FoldReplay | undefined;
      if (folding) {
        // AWQ / SmoothQuant / OS+: this block's scales, folded into the running model before its layers are quantized.
        const p = await prepareActivationAware({ layers: blockPlans, model: current, stats, threads, signal, frozen });
        viaMul.push(...p.viaMul);
        if (p.transforms.length) replay = new FoldReplay(current, p.transforms, frozen, `${model.path} ${tag}`);
        current = p.model;
        stats = p.stats;
        prepared = p.details;
        quantLayers = layers.map((l) => inCurrent(l));
      }
      const q = await quantizeLayers({
        plan: { layers: blockPlans, format: plan.format, threads: plan.threads },
        model: statisticsView(current, quantLayers),
        ops: opts.ops,
        stats,
        prepared,
        signal,
        onProgress: (p) =>
          opts.onProgress?.(
            p.stage === 'quantize'
              ? { ...p, message: `${tag} · ${p.message}${eta}`, index: planned.get(blockPlans[p.index].name)!.i, total: plan.layers.length }
              : p,
          ),
      });
      stats.clear();
      memTrace(`${tag} quantized`);
      if (opts.mode === 'sequential' && block.carried.length) {
        // The next blocks read this block's output with its weights fake-quantized.
        const fake = exportModelProto(
          current,
          q.map((r) => ({ layer: r.layer, dequant: r.dequant, lowRank: r.lowRank as never, inputScale: r.inputScale })),
          { format: 'fake' },
        ).proto;
        await runBlock(fake, block, block.carried, opts, cache, async (j, out) => {
          for (const c of block.carried) await cache.put(c, j, out[c]);
        });
        // The FP stream: the block with FP weights (and its folds) on the FP inputs.
        if (fpCache)
          await runBlock(current.proto, block, block.carried, opts, fpCache, async (j, out) => {
            for (const c of block.carried) await fpCache.put(c, j, out[c]);
          });
      }
      // The block's dequantized weights become recomputing getters; their codes go to disk until the export.
      let released = 0;
      for (const r of q) {
        if (!releaseDequant(r)) continue;
        released++;
        opts.codeSpill?.spill(r);
      }
      memTrace(`${tag} released ${released} of ${q.length} dequantized weights`);
      // The block's folded weights: the export writes its layers from their codes (releaseFolded.ts).
      if (replay) {
        const bytes = releaseFoldedWeights(
          current,
          model,
          q.map((r) => r.layer),
          replay,
        );
        memTrace(`${tag} released ${bytes} bytes of folded weights`);
      }
      done.push(...q);
      for (const n of block.layers) frozen.add(n);
      doneParams += params(block);
      for (const x of block.inputs)
        if (lastReader.get(x) === block.index) {
          await cache.drop(x);
          await fpCache?.drop(x);
        }
      trimHeaps();
      memTrace(`${tag} end`);
    }
  } finally {
    cache.close();
    fpCache?.close();
  }
  // Layers of ops without calibration statistics (none today: every quantizable op is calibrated).
  const rest = plan.layers.filter((l) => !done.some((d) => d.layer === l.name));
  if (rest.length)
    done.push(
      ...(await quantizeLayers({
        plan: { layers: rest, format: plan.format, threads: plan.threads },
        model: current,
        ops: opts.ops,
        stats: new Map(),
        signal,
      })),
    );
  done.sort((a, b) => planned.get(a.layer)!.i - planned.get(b.layer)!.i);
  return {
    layers: done,
    model: current,
    warnings: viaMulWarnings(viaMul),
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
  use: (batch: number, out: Record<string, ort.Tensor>, fp?: Record<string, ort.Tensor>) => Promise<void>,
  /** Also run each batch on the inputs this cache holds (GPTAQ's FP stream), handed to `use` as `fp`. */
  fpCache?: ActivationCache,
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
      const names = sub.graph!.input.map((i) => i.name);
      const feeds = await blockFeeds(block, names, opts.batches[j], cache, j);
      const out = await session.run(feeds, outputs);
      const fp = fpCache ? await session.run(await blockFeeds(block, names, opts.batches[j], fpCache, j), outputs) : undefined;
      await use(j, out, fp);
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
