/**
 * The job's export step, in one place: per-layer results → compressed model bytes (engine/export) →
 * atomic write (temp file + rename; never the input).
 */
import type { JobPlan } from '../protocol/plan';
import type { OnnxModel } from './onnx/model';
import type { QuantizedLayer } from './quantize/quantizeLayers';
import { exportModel } from './export/exportModel';
import type { LayerResult, QuantizedWeightLike, LowRankFactors } from './export/types';
import { writeModelAtomic } from './export/writeModel';

function toResult(l: Pick<QuantizedLayer, 'layer' | 'dequant' | 'lowRank' | 'inputScale'> & { q?: unknown }): LayerResult {
  return { layer: l.layer, dequant: l.dequant, q: l.q as QuantizedWeightLike | undefined, lowRank: l.lowRank as LowRankFactors | undefined, inputScale: l.inputScale };
}

/**
 * Builds the output model for `plan.format` and writes it atomically.
 * Returns its size and one warning per layer written in another format than asked for (whose
 * report `bits_per_weight` becomes 32).
 */
export async function exportAndWrite(
  model: OnnxModel, layers: QuantizedLayer[], plan: Pick<JobPlan, 'format' | 'outputPath' | 'modelPath'>, signal?: AbortSignal,
): Promise<{ bytes: number; warnings: string[] }> {
  const r = exportModel(model, layers.map(toResult), { format: plan.format });
  signal?.throwIfAborted();
  await writeModelAtomic(r.bytes, plan.outputPath, { inputPath: plan.modelPath });
  // One warning per distinct reason, naming the layers (a 3-bit MatMulNBits plan would otherwise give 36).
  const byNote = new Map<string, string[]>();
  for (const l of r.layers) if (l.note) byNote.set(`${l.written}: ${l.note}`, [...(byNote.get(`${l.written}: ${l.note}`) ?? []), l.layer]);
  const warnings = [...byNote].map(([note, names]) =>
    `export: ${names.length === 1 ? `layer ${names[0]}` : `${names.length} layers (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`} written as ${note}`);
  // Bits per weight are "as stored": a layer the exporter had to write as float weights stores 32.
  const byName = new Map(layers.map((l) => [l.layer, l]));
  for (const w of r.layers) if (w.written === 'fake') { const q = byName.get(w.layer); if (q) q.report.bits_per_weight = 32; }
  return { bytes: r.bytes.length, warnings };
}

/** The model bytes with only the given layers replaced by their dequantized weights (fake-quant, low-rank branches kept). */
export function fakeQuantBytes(model: OnnxModel, layers: Pick<QuantizedLayer, 'layer' | 'dequant' | 'lowRank' | 'inputScale'>[]): Uint8Array {
  return exportModel(model, layers.map((l) => toResult({ ...l, q: undefined })), { format: 'fake' }).bytes;
}
