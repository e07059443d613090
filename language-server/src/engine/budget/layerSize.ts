/**
 * The size model: what one quantized layer really costs in the written file, measured by building
 * the model with only that layer replaced (the real exporter: MatMulNBits codes, scales and zero
 * points with their block padding; `packed` bit planes, parameters and decode subgraph; QDQ
 * DequantizeLinear) and counting the serialized bytes against the untouched model's.
 *
 * cost(layer) = bytes(model with the layer replaced) − bytes(model) + the layer's float weight bytes,
 * i.e. everything the layer's compressed form adds to a file from which its float weight was removed.
 * Packed layers of one export share constants by content; measured alone each layer carries its own
 * copy, so the summed costs can only over-count the written file (a plan that fits, fits).
 */
import type { ExportFormat } from '../../protocol/plan';
import { exportModelProto } from '../export/exportModel';
import type { LayerResult, LowRankFactors, QuantizedWeightLike } from '../export/types';
import { elemBytes, type OnnxModel } from '../onnx/model';
import { encodeModelPieces } from '../onnx/onnxProto';
import type { QuantizedLayer } from '../quantize/quantizeLayers';

/** Serialized bytes of the model with no layer replaced (the reference the costs are counted from). */
export function baselineBytes(model: OnnxModel): number {
  return encodeModelPieces(exportModelProto(model, [], { format: 'fake' }).proto, model.path).length;
}

/** Bytes of a layer's float weight as the input file stores it (external data included). */
export function floatWeightBytes(model: OnnxModel, layer: string): number {
  const l = model.layer(layer);
  return (elemBytes(l.ref.stored.dataType) ?? 4) * l.params;
}

/** Whether the layer's float weight lives in external data (not counted by the serialized proto). */
function externalWeight(model: OnnxModel, layer: string): boolean {
  return model.layer(layer).ref.stored.dataLocation === 1;
}

/**
 * Stored bytes of `q` written as `format` (see the file comment), and how it was written: a layer the
 * exporter could not write in `format` comes back as `fake` (float weights) and costs what that costs.
 */
export function layerCost(model: OnnxModel, q: QuantizedLayer, format: ExportFormat, baseline: number): { bytes: number; written: string } {
  const res: LayerResult = {
    layer: q.layer, dequant: q.dequant, q: q.q as QuantizedWeightLike | undefined, lowRank: q.lowRank as LowRankFactors | undefined,
    inputScale: q.inputScale, binary: q.binary,
  };
  const r = exportModelProto(model, [res], { format });
  const bytes = encodeModelPieces(r.proto, model.path).length;
  // With external data the float weight was never in the proto: removing it saves nothing there.
  const removed = externalWeight(model, q.layer) ? 0 : floatWeightBytes(model, q.layer);
  return { bytes: Math.max(0, bytes - baseline + removed), written: r.layers[0]?.written ?? format };
}
