/**
 * Per-layer quantization: for each planned layer, fetch its weight, run its method's kernel, measure
 * the relative output error under the calibration Hessian, and report progress. Cancellation is checked
 * between layers and passed into the kernels.
 */
import type { ExportFormat, JobPlan, JobProgress, LayerPlan } from '../../protocol/plan';
import type { LayerReport } from '../../protocol/report';
import type { InputStatistics } from '../calibrate/inputStatistics';
import { kernelFor, relativeError } from './kernels';
import type { KernelOutput, LayerWeight, PreparedDetails, QuantizeModel } from './kernelTypes';

export type { QuantizeModel } from './kernelTypes';
import { storedBitsPerWeight } from './storageBits';
import { memTrace } from '../stream/memTrace';

/** One quantized layer, as the exporter and the report consume it. */
export interface QuantizedLayer extends KernelOutput {
  layer: string;
  report: LayerReport;
}

/**
 * Quantizes `plan.layers` in order. `stats` maps input tensor → statistics (from calibration).
 * @throws Error naming the layer when a kernel fails; AbortError when cancelled.
 */
export async function quantizeLayers(opts: {
  plan: Pick<JobPlan, 'layers' | 'format'> & { threads?: number };
  model: QuantizeModel;
  /** Op type per layer (for the report). */
  ops: Map<string, string>;
  stats: Map<string, InputStatistics>;
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  /** Layers folded by prepareActivationAware (awq/smoothquant/osplus), with their details. */
  prepared?: Map<string, PreparedDetails>;
  /** Called after each layer (sequential calibration hooks in here). */
  onLayer?: (q: QuantizedLayer) => void | Promise<void>;
}): Promise<QuantizedLayer[]> {
  const { plan, model, stats, signal } = opts;
  const total = plan.layers.length;
  const out: QuantizedLayer[] = [];
  for (let index = 0; index < total; index++) {
    signal?.throwIfAborted();
    const layer = plan.layers[index];
    const progress = (fraction: number) =>
      opts.onProgress?.({
        stage: 'quantize',
        message: `${layer.name} (${layer.method} ${layer.bits}-bit)`,
        layer: layer.name,
        index,
        total,
        fraction,
      });
    progress(0);
    // The kernel's own progress stays below 1: the layer is done (fraction 1) only once, after it returns.
    const kernelProgress = (f: number) => progress(Math.min(f, 0.999));
    const q = await quantizeOne(
      layer,
      model,
      opts.ops.get(layer.name) ?? 'MatMul',
      stats,
      plan.format,
      plan.threads ?? 0,
      signal,
      kernelProgress,
      opts.prepared?.get(layer.name),
    );
    out.push(q);
    await opts.onLayer?.(q);
    progress(1);
  }
  return out;
}

async function quantizeOne(
  layer: LayerPlan,
  model: QuantizeModel,
  op: string,
  stats: Map<string, InputStatistics>,
  format: ExportFormat,
  threads: number,
  signal: AbortSignal | undefined,
  progress: (f: number) => void,
  prepared?: PreparedDetails,
): Promise<QuantizedLayer> {
  const weight = model.getWeight(layer.name);
  memTrace(`layer ${layer.name} weight read`);
  const input = stats.get(model.layerInput(layer.name));
  const kernel = kernelFor(layer.method, layer.name);
  let result: KernelOutput;
  try {
    result = await kernel({ layer, weight, input, signal, threads, onProgress: progress, prepared });
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    if ((e as Error).name === 'AbortError') throw e;
    const msg = (e as Error).message;
    throw new Error(msg.includes(layer.name) ? msg : `layer ${layer.name} (${layer.method}): ${msg}`, { cause: e });
  }
  if (result.dequant.length !== weight.rows * weight.cols) {
    throw new Error(`layer ${layer.name}: kernel returned ${result.dequant.length} values for a ${weight.rows}×${weight.cols} weight`);
  }
  memTrace(`layer ${layer.name} kernel done`);
  const effective = effectiveWeight(result, weight.rows, weight.cols);
  const relErr = input ? relativeError(weight, effective, input, threads) : weightRelativeError(weight, effective);
  memTrace(`layer ${layer.name} error measured`);
  const report: LayerReport = {
    name: layer.name,
    op,
    shape: [weight.rows, weight.cols],
    params: weight.rows * weight.cols,
    method: layer.method,
    bits: layer.bits,
    group_size: layer.groupSize,
    symmetric: layer.symmetric,
    rel_error: relErr,
    bits_per_weight:
      (layer.format ?? format) !== 'fake' && result.bitsPerWeight !== undefined
        ? result.bitsPerWeight
        : storedBitsPerWeight(layer.format ?? format, layer.bits, weight.cols, layer.groupSize, layer.symmetric),
    rules: layer.rules,
    ...result.details,
  };
  const { bitsPerWeight: _bpw, ...rest } = result;
  return { ...rest, layer: layer.name, report };
}

/** The weight the compressed layer computes with: dequant, plus L·R when the kernel returned low-rank factors. */
export function effectiveWeight(r: Pick<KernelOutput, 'dequant' | 'lowRank'>, rows: number, cols: number): Float32Array {
  const lr = r.lowRank as { L: Float32Array; R: Float32Array; rank: number } | undefined;
  if (!lr || !lr.rank) return r.dequant;
  const out = Float32Array.from(r.dequant);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < lr.rank; k++) {
      const l = lr.L[i * lr.rank + k];
      if (l === 0) continue;
      for (let j = 0; j < cols; j++) out[i * cols + j] += l * lr.R[k * cols + j];
    }
  }
  return out;
}

/** ‖ΔW‖²/‖W‖² — the H = I case, used when a layer has no calibration statistics. */
export function weightRelativeError(w: LayerWeight, dequant: Float32Array): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < w.data.length; i++) {
    const d = w.data[i] - dequant[i];
    num += d * d;
    den += w.data[i] * w.data[i];
  }
  return den > 0 ? num / den : 0;
}
