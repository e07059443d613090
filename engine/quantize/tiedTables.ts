/**
 * Tied embeddings: one [vocab, hidden] table read by a Gather and by the LM head (MatMul/Gemm). When
 * both are planned, the table is quantized once — with the head's method, which has calibration
 * statistics — and the Gather takes the head's codes, so the exporter can store the table once.
 * The recipe check (`tied-formats`) already made both sides ask for the same bits, group and symmetry.
 */
import type { LayerRecord } from '../onnx/layers';
import type { LayerWeight } from './kernels';
import { weightRelativeError, type QuantizedLayer } from './quantizeLayers';

/**
 * Gives each planned tied table the result of its planned head (in place); returns the tables it shared.
 * @throws Error naming both layers when the head's result cannot serve a lookup table (an input
 * transform, a low-rank branch or binarized codes).
 */
export function shareTiedTables(
  quantized: QuantizedLayer[],
  model: { layer(name: string): LayerRecord; getWeight(name: string): LayerWeight },
): string[] {
  const byName = new Map(quantized.map((q) => [q.layer, q]));
  const shared: string[] = [];
  for (const q of quantized) {
    const rec = model.layer(q.layer);
    if (!rec.embedding || !rec.tiedWith) continue;
    const head = byName.get(rec.tiedWith);
    if (!head) continue;
    if (head.inputScale || head.lowRank || head.binary || !head.q)
      throw new Error(
        `tied table '${q.layer}': its head '${head.layer}' was quantized with ${head.report.method}, whose result (an input scaling, a low-rank branch or binarized codes) a Gather lookup cannot use; quantize the head with rtn or gptq, or skip one of the two`,
      );
    q.dequant = head.dequant;
    q.q = head.q;
    q.report = {
      ...q.report,
      method: head.report.method,
      bits_per_weight: head.report.bits_per_weight,
      tied_with: head.layer,
      rel_error: weightRelativeError(model.getWeight(q.layer), head.dequant),
    };
    head.report.tied_with = q.layer;
    shared.push(q.layer);
  }
  return shared;
}
