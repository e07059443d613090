/**
 * Sequential calibration + quantization (GPTQ's `true_sequential` at block granularity): layers are
 * grouped into blocks by name prefix (`layers.3.wq` → `layers.3`; a name without a dot is its own block),
 * in plan order. Each block is calibrated on the model in which every earlier block is already
 * fake-quantized, then quantized. Costs one calibration pass per block.
 */
import type { JobPlan, JobProgress } from '../../protocol/plan';
import { fakeQuantBytes } from '../exportStep';
import { parseModel, type OnnxModel } from '../onnx/model';
import { quantizeLayers, type QuantizedLayer } from '../quantize/quantizeLayers';
import { calibrate, statisticsKey, type CalibratedLayer, type Feeds, type InputStatistics } from './calibrate';
import { groupBlocks } from './blocks';

/** Calibrates and quantizes block by block; returns the quantized layers in plan order. */
export async function quantizeSequential(opts: {
  plan: JobPlan;
  model: OnnxModel;
  ops: Map<string, string>;
  /** Calibrated layers (MatMul/Gemm/Conv) with their input tensor, `in` size and Conv geometry. */
  calibrated: CalibratedLayer[];
  batches: Feeds[];
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
}): Promise<QuantizedLayer[]> {
  const { plan, model, signal } = opts;
  const done: QuantizedLayer[] = [];
  const blocks = groupBlocks(plan.layers);
  const calibratedBy = new Map(opts.calibrated.map((l) => [l.name, l]));
  // quantizeLayers looks statistics up by model.layerInput(name): answer with the Conv-aware key.
  const view = {
    getWeight: (name: string) => model.getWeight(name),
    layerInput: (name: string) => { const l = calibratedBy.get(name); return l ? statisticsKey(l) : model.layerInput(name); },
  };
  let index = 0;
  for (const block of blocks) {
    signal?.throwIfAborted();
    const current = done.length ? parseModel(fakeQuantBytes(model, done), model.path) : model;
    const layers = block.map((l) => calibratedBy.get(l.name)).filter((l): l is NonNullable<typeof l> => !!l);
    const stats: Map<string, InputStatistics> = layers.length
      ? await calibrate({ model: current, layers, batches: opts.batches, threads: plan.threads, signal })
      : new Map();
    const base = index;
    const q = await quantizeLayers({
      plan: { layers: block, format: plan.format, threads: plan.threads }, model: view, ops: opts.ops, stats, signal,
      onProgress: (p) => opts.onProgress?.(p.stage === 'quantize' ? { ...p, index: base + p.index, total: plan.layers.length } : p),
    });
    done.push(...q);
    index += block.length;
  }
  return done;
}
