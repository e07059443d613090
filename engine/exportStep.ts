/**
 * The job's export step, in one place: per-layer results → compressed model bytes (engine/export) →
 * atomic write (temp file + rename; never the input).
 */
import { DEFAULT_ACCURACY_LEVEL, type JobPlan } from '../protocol/plan';
import type { OnnxModel } from './onnx/model';
import type { QuantizedLayer } from './quantize/quantizeLayers';
import { exportModelProto, layerFormatsOf } from './export/exportModel';
import { sparseFields, type LayerResult, type QuantizedWeightLike, type LowRankFactors } from './export/types';
import { encodeModel } from './onnx/onnxProto';
import { checkInterfaceKept } from './export/interfaceCheck';
import { DT, isHalfExact } from './onnx/tensor';
import { groupsPerRow } from './quantize/storageBits';
import { leftAloneTensors } from './onnx/leftAlone';
import type { LeftAloneTensor } from '../protocol/model';
import { writeModelStreaming, type StreamingWriteOptions } from './export/writeStreaming';
import { memTrace } from './stream/memTrace';

/** A quantized layer as the exporter takes it; `dequant` stays lazy (a streamed layer rebuilds it on each read). */
export function toResult(
  l: Pick<QuantizedLayer, 'layer' | 'dequant' | 'lowRank' | 'inputScale' | 'binary'> &
    Partial<Pick<QuantizedLayer, 'details'>> & { q?: unknown },
): LayerResult {
  return {
    layer: l.layer,
    // Lazy: a streamed job's `dequant` is a getter that rebuilds the layer's fp32 weight from its codes
    // (stream/releaseDequant.ts). Read here, every layer's weight was in memory at once (1.9 GB at 480M).
    get dequant() {
      return l.dequant;
    },
    q: l.q as QuantizedWeightLike | undefined,
    lowRank: l.lowRank as LowRankFactors | undefined,
    inputScale: l.inputScale,
    binary: l.binary,
    ...sparseFields(l.details?.sparsity),
  };
}

/**
 * Builds the output model for `plan.format` and writes it atomically, streaming: with ONNX external
 * data (`<output>.data`) when the input had external data, when the output would pass the protobuf
 * limit, or when `write.externalData` is 'always'.
 * Returns its size on disk (both files), the .data file when one was written, and one warning per
 * layer written in another format than asked for (whose report `bits_per_weight` becomes 32).
 */
export async function exportAndWrite(
  model: OnnxModel,
  layers: QuantizedLayer[],
  plan: Pick<JobPlan, 'format' | 'outputPath' | 'modelPath' | 'accuracyLevel'> & Partial<Pick<JobPlan, 'layers' | 'skipped'>>,
  signal?: AbortSignal,
  write: Pick<StreamingWriteOptions, 'externalData' | 'thresholdBytes'> = {},
): Promise<{ bytes: number; dataPath?: string; warnings: string[]; leftAlone: LeftAloneTensor[] }> {
  const layerFormats = layerFormatsOf(plan.layers ?? []);
  const r = exportModelProto(model, layers.map(toResult), {
    format: plan.format,
    layerFormats,
    accuracyLevel: plan.accuracyLevel ?? DEFAULT_ACCURACY_LEVEL,
  });
  memTrace('export: model built');
  checkInterfaceKept(model.graph, r.proto.graph!, model.path);
  signal?.throwIfAborted();
  const inputExternal = model.graph.initializer.some((t) => t.dataLocation === 1);
  const w = await writeModelStreaming(r.proto, plan.outputPath, {
    inputPath: plan.modelPath,
    src: model.src,
    label: model.path,
    signal,
    externalData: write.externalData ?? (inputExternal ? 'always' : 'auto'),
    thresholdBytes: write.thresholdBytes,
  });
  memTrace('export: written');
  // One warning per distinct reason, naming the layers (a 3-bit MatMulNBits plan would otherwise give 36).
  const byNote = new Map<string, string[]>();
  for (const l of r.layers) if (l.note) byNote.set(`${l.written}: ${l.note}`, [...(byNote.get(`${l.written}: ${l.note}`) ?? []), l.layer]);
  const warnings = [...byNote].map(
    ([note, names]) =>
      `export: ${names.length === 1 ? `layer ${names[0]}` : `${names.length} layers (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''})`} written as ${note}`,
  );
  // Bits per weight are "as stored": a layer the exporter had to write as float weights stores 32.
  const byName = new Map(layers.map((l) => [l.layer, l]));
  for (const w of r.layers) {
    const q = byName.get(w.layer);
    if (!q) continue;
    q.report.format = w.written;
    if (w.storedBytes !== undefined) q.report.stored_bytes = w.storedBytes;
    if (w.written === 'fake') q.report.bits_per_weight = 32;
    if (w.sparseForm && q.report.sparsity) q.report.sparsity.storage = w.sparseForm;
    // Real-valued zero points (HQQ) are stored as 32-bit floats per group, not as `bits`-bit integers.
    if (w.floatZeros)
      q.report.bits_per_weight = q.report.bits + (groupsPerRow(q.report.shape[1], q.report.group_size) * (32 + 32)) / q.report.shape[1];
  }
  // A packed layer stores what the exporter measured (bit planes, parameters and decode nodes), plus its L·R
  // branch; in memory onnxruntime holds its decoded float weight.
  for (const w of r.layers) {
    const q = byName.get(w.layer);
    if (w.written !== 'packed' || w.storedBytes === undefined || !q) continue;
    q.report.bits_per_weight = packedBitsPerWeight(w.storedBytes, q);
    q.report.runtime_bits_per_weight = model.layer(w.layer).ref.dataType === DT.FLOAT16 ? 16 : 32;
  }
  const bytes = w.bytes + w.dataBytes;
  const leftAlone = leftAloneTensors(
    model.graph,
    model.layers,
    new Set(r.layers.filter((l) => l.written !== 'fake').map((l) => l.layer)),
    bytes,
    {
      skippedBy: new Map((plan.skipped ?? []).map((s) => [s.name, s.rule])),
      notes: new Map(
        r.layers
          .filter((l) => l.written === 'fake')
          .map((l) => [l.layer, l.note ?? (plan.format === 'fake' ? 'format: fake' : 'fake-quant')]),
      ),
    },
  );
  return { bytes, dataPath: w.dataPath, warnings, leftAlone };
}

/** Stored bits per weight of a packed layer: its measured bytes, plus fp16 (fp32 if not exact) low-rank factors. */
export function packedBitsPerWeight(storedBytes: number, l: Pick<QuantizedLayer, 'lowRank' | 'report'>): number {
  const lr = l.lowRank as LowRankFactors | undefined;
  const [rows, cols] = l.report.shape;
  const factorBits = lr && lr.rank ? (isHalfExact(lr.L) && isHalfExact(lr.R) ? 16 : 32) * lr.rank * (rows + cols) : 0;
  return (storedBytes * 8 + factorBits) / (rows * cols);
}

/**
 * The model bytes with only the given layers replaced by their dequantized weights (fake-quant,
 * low-rank branches kept), for an onnxruntime session. When `model` has external data, every weight
 * left unchanged stays a reference to it: open the bytes with `model.externalDataDir` (and parse them
 * with `model.src.dir`). Only the replaced layers' weights are inline, so the bytes still hit the
 * protobuf limit (2 GiB, a clear error naming the model) when those alone pass it.
 */
export function fakeQuantBytes(
  model: OnnxModel,
  layers: Pick<QuantizedLayer, 'layer' | 'dequant' | 'lowRank' | 'inputScale'>[],
): Uint8Array {
  model.checkExternalData();
  const results = layers.map((l) => toResult({ ...l, q: undefined, binary: undefined }));
  return encodeModel(exportModelProto(model, results, { format: 'fake' }).proto, model.path);
}
