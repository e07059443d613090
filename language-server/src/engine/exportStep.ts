/**
 * The job's export step, in one place: per-layer results → compressed model bytes (engine/export) →
 * atomic write next to nothing else (temp + rename; never the input).
 */
import type { JobPlan } from '../protocol/plan';
import type { OnnxModel } from './onnx/model';
import type { QuantizedLayer } from './quantize/quantizeLayers';
import { exportModel, writeModelAtomic } from './export/index';

/** Builds the output model for `plan.format` and writes it atomically; returns its size in bytes. */
export async function exportAndWrite(model: OnnxModel, layers: QuantizedLayer[], plan: Pick<JobPlan, 'format' | 'outputPath' | 'modelPath'>, signal?: AbortSignal): Promise<number> {
  const bytes = exportModel(model, layers.map((l) => ({ layer: l.layer, dequant: l.dequant, q: l.q, lowRank: l.lowRank, inputScale: l.inputScale })), plan.format);
  signal?.throwIfAborted();
  await writeModelAtomic(bytes, plan.outputPath, { inputPath: plan.modelPath });
  return bytes.length;
}

/** The model bytes with only the given layers replaced by their dequantized weights (fake-quant). */
export function fakeQuantBytes(model: OnnxModel, layers: Pick<QuantizedLayer, 'layer' | 'dequant'>[]): Uint8Array {
  return exportModel(model, layers.map((l) => ({ layer: l.layer, dequant: l.dequant })), 'fake');
}
