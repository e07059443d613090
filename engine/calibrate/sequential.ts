/**
 * Sequential calibration + quantization (GPTQ's `true_sequential` at block granularity): layers are
 * grouped into blocks cut from the graph (calibrate/blocks.ts: between two points of the residual
 * stream in a transformer, so attention and MLP are separate blocks), in model order. Each block is calibrated on the model in which every earlier block is already
 * transformed and fake-quantized, then prepared, then quantized. Costs one calibration pass per block.
 *
 * The prepare hook runs between a block's calibration and its quantization. By default it is the
 * activation-aware step (AWQ / SmoothQuant / OS+, quantize/activationAware.ts) restricted to the block:
 * its scales/shifts are searched on the block's statistics — collected with the earlier blocks'
 * quantization error (and activation QDQ) in place — and folded into the running model, which every
 * later block, and the export, build on. Layers already quantized are frozen: a fold never changes them.
 */
import type { JobPlan, JobProgress, LayerPlan } from '../../protocol/plan';
import { fakeQuantBytes } from '../exportStep';
import { parseModel, type OnnxModel } from '../onnx/model';
import { prepareActivationAware, viaMulWarnings, type Prepared } from '../quantize/activationAware';
import { quantizeLayers, type QuantizedLayer } from '../quantize/quantizeLayers';
import type { FoldedGroup } from '../transforms';
import { calibrate, statisticsKey, statisticsView, type CalibratedLayer, type Feeds, type InputStatistics } from './calibrate';
import { CrossStatistic } from '../../native/ts/index';
import { graphBlocks } from './blocks';

/** What the prepare hook sees for one block. */
export interface BlockContext {
  /** The block's layer plans and its index in the block order. */
  block: LayerPlan[];
  index: number;
  /** Every earlier block's transforms folded, weights still FP (the block's own weights are FP too). */
  model: OnnxModel;
  /** The block's input statistics, collected on `model` with the earlier blocks fake-quantized. */
  stats: Map<string, InputStatistics>;
  /** Layers already quantized (earlier blocks); their weights must not change. */
  frozen: ReadonlySet<string>;
  threads: number;
  signal?: AbortSignal;
}

/** The hook's answer: the model the block is quantized in (and later blocks build on), statistics keyed by its layer inputs. */
export type PreparedBlock = Pick<Prepared, 'model' | 'stats' | 'details'> & { warnings?: string[] };

/** Runs between a block's calibration and its quantization. */
export type BlockPrepare = (ctx: BlockContext) => Promise<PreparedBlock>;

/**
 * The default hook: the activation-aware step for the block's awq/smoothquant/osplus layers (the model
 * and statistics pass through unchanged when it has none). Groups folded through an inserted Mul are
 * appended to `viaMul` (one warning for the whole job instead of one per block).
 */
export function activationAwarePrepare(viaMul: FoldedGroup[] = []): BlockPrepare {
  return async (ctx) => {
    const p = await prepareActivationAware({
      layers: ctx.block,
      model: ctx.model,
      stats: ctx.stats,
      threads: ctx.threads,
      signal: ctx.signal,
      frozen: ctx.frozen,
    });
    viaMul.push(...p.viaMul);
    return { model: p.model, stats: p.stats, details: p.details };
  };
}

/** The result: quantized layers in plan order (blocks run in model order), the model they belong to (all transforms folded), warnings. */
export interface SequentialResult {
  layers: QuantizedLayer[];
  model: OnnxModel;
  warnings: string[];
}

/** Calibrates, prepares and quantizes block by block; see the file comment. */
export async function quantizeSequential(opts: {
  plan: JobPlan;
  model: OnnxModel;
  ops: Map<string, string>;
  /** Calibrated layers (MatMul/Gemm/Conv) with their input tensor, `in` size and Conv geometry. */
  calibrated: CalibratedLayer[];
  batches: Feeds[];
  /** Defaults to the activation-aware step (a no-op for blocks without awq/smoothquant/osplus layers). */
  prepare?: BlockPrepare;
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
}): Promise<SequentialResult> {
  const { plan, signal } = opts;
  const threads = plan.threads ?? 0;
  const done: QuantizedLayer[] = [];
  const frozen = new Set<string>();
  const warnings: string[] = [];
  const viaMul: FoldedGroup[] = [];
  const prepare = opts.prepare ?? activationAwarePrepare(viaMul);
  const calibratedBy = new Map(opts.calibrated.map((l) => [l.name, l]));
  // A fold may rename a layer's input (inserted Mul / activation QDQ): always ask the current model.
  const inModel = (m: OnnxModel, l: CalibratedLayer): CalibratedLayer => ({ ...l, input: m.layerInput(l.name) });
  let base = opts.model;
  let index = 0;
  const blocks = graphBlocks(plan.layers, opts.model, opts.calibrated);
  for (let b = 0; b < blocks.length; b++) {
    const block = blocks[b];
    signal?.throwIfAborted();
    // External weights of `base` stay references in the fake-quant bytes, resolved from its folder.
    const current = done.length ? parseModel(fakeQuantBytes(base, done), base.path, base.src.dir, base.src.maxBytes) : base;
    const layers = block
      .map((l) => calibratedBy.get(l.name))
      .filter((l): l is CalibratedLayer => !!l)
      .map((l) => inModel(base, l));
    // GPTAQ layers also need the float model's inputs of the same tokens (base: earlier blocks in FP).
    const asymmetric = block.some((l) => l.method === 'gptq' && l.settings.asymmetric === true);
    const stats: Map<string, InputStatistics> = layers.length
      ? await calibrate({
          model: current,
          layers,
          batches: opts.batches,
          threads,
          signal,
          reference: asymmetric && current !== base ? base : undefined,
        })
      : new Map();
    // Nothing quantized before this block: x̃ = x, so D = 0 exactly (no second pass needed).
    if (asymmetric && current === base)
      for (const l of layers) {
        const s = l.conv || l.convTranspose ? undefined : stats.get(statisticsKey(l));
        if (s) s.cross ??= new CrossStatistic(s.n);
      }
    const prep = await prepare({ block, index: b, model: base, stats, frozen, threads, signal });
    warnings.push(...(prep.warnings ?? []));
    const model = prep.model;
    // quantizeLayers looks statistics up by model.layerInput(name): answer with the Conv-aware key.
    const view = statisticsView(
      model,
      layers.map((l) => inModel(model, l)),
    );
    const first = index;
    const q = await quantizeLayers({
      plan: { layers: block, format: plan.format, threads: plan.threads },
      model: view,
      ops: opts.ops,
      stats: prep.stats,
      prepared: prep.details,
      signal,
      onProgress: (p) => opts.onProgress?.(p.stage === 'quantize' ? { ...p, index: first + p.index, total: plan.layers.length } : p),
    });
    done.push(...q);
    for (const l of block) frozen.add(l.name);
    base = model;
    index += block.length;
  }
  const order = new Map(plan.layers.map((l, i) => [l.name, i]));
  done.sort((a, b) => order.get(a.layer)! - order.get(b.layer)!);
  return { layers: done, model: base, warnings: [...warnings, ...viaMulWarnings(viaMul)] };
}
