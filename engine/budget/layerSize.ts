/**
 * The size model: what one quantized layer really costs in the written file, measured with the real
 * exporter (MatMulNBits codes, scales and zero points with their block padding; `packed` bit planes,
 * parameters and decode subgraph; QDQ DequantizeLinear) by counting serialized bytes.
 *
 * cost(layer) = bytes(primer + layer) − bytes(primer) + the layer's float weight bytes, where the
 * primer is the model with one OTHER layer already written with the same candidate: what the layer
 * adds once the constants a format's layers share (packed decode constants, the com.microsoft opset
 * import) are in the file — they are paid once, not per layer. The one-time part is not in any cost;
 * suggest.ts measures the chosen mix as one export and tightens the budget until it fits.
 *
 * Each layer is written in the format its plan says (`LayerPlan.format`: recipe/storedFormat.ts's
 * choice for the layer's op, bits and group size, which under `auto` differs per layer), passed to
 * the exporter exactly as the job passes it (layerFormatsOf).
 */
import type { ExportFormat, StoredFormat } from '../../protocol/plan';
import { exportModelProto, layerFormatsOf } from '../export/exportModel';
import { sparseFields, type LayerResult, type LowRankFactors, type QuantizedWeightLike } from '../export/types';
import { elemBytes, type OnnxModel } from '../onnx/model';
import { encodeModelPieces } from '../onnx/onnxProto';
import type { QuantizedLayer } from '../quantize/quantizeLayers';

function asResult(q: QuantizedLayer): LayerResult {
  return {
    layer: q.layer,
    dequant: q.dequant,
    q: q.q as QuantizedWeightLike | undefined,
    lowRank: q.lowRank as LowRankFactors | undefined,
    inputScale: q.inputScale,
    binary: q.binary,
    ...sparseFields(q.details?.sparsity),
  };
}

/** One quantized layer and the format its plan stores it in. */
export interface StoredLayer {
  q: QuantizedLayer;
  format: StoredFormat;
}

/** Serialized bytes of the model with `layers` written as planned under `format` (exactly what exportAndWrite writes, as one protobuf). */
export function exportedBytes(model: OnnxModel, layers: StoredLayer[], format: ExportFormat, accuracyLevel = 0): number {
  const layerFormats = layerFormatsOf(layers.map((l) => ({ name: l.q.layer, format: l.format })));
  const proto = exportModelProto(
    model,
    layers.map((l) => asResult(l.q)),
    { format, layerFormats, accuracyLevel },
  ).proto;
  return encodeModelPieces(proto, model.path).length;
}

/** Bytes of a layer's float weight as the input file stores it (0 when it lives in external data, outside the protobuf). */
export function floatWeightBytes(model: OnnxModel, layer: string): number {
  const l = model.layer(layer);
  return l.ref.stored.dataLocation === 1 ? 0 : (elemBytes(l.ref.stored.dataType) ?? 4) * l.params;
}

/** A model with one layer already written (see the file comment). */
export interface Primer {
  q?: StoredLayer;
  bytes: number;
}

export function primer(model: OnnxModel, q: StoredLayer, format: ExportFormat, accuracyLevel = 0): Primer {
  return { q, bytes: exportedBytes(model, [q], format, accuracyLevel) };
}

/** Stored bytes `q` adds to a file that already holds `primer` (whose layer must be another one). */
export function layerCost(model: OnnxModel, q: StoredLayer, format: ExportFormat, p: Primer, accuracyLevel = 0): number {
  if (p.q?.q.layer === q.q.layer) throw new Error(`layer ${q.q.layer}: the size primer must be another layer`);
  return Math.max(0, exportedBytes(model, p.q ? [p.q, q] : [q], format, accuracyLevel) - p.bytes + floatWeightBytes(model, q.q.layer));
}
