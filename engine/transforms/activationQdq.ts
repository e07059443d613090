/**
 * Static per-tensor activation fake quantization (SmoothQuant / OS+ W8A8, W4A8, W6A6): a
 * QuantizeLinear → DequantizeLinear pair before each quantized layer. Bit widths below 8 are
 * simulated exactly on the 8-bit types by clipping to the b-bit range first:
 * Clip(x, (qmin−zp)·s, (qmax−zp)·s) → QuantizeLinear(int8/uint8) → DequantizeLinear, which yields
 * exactly the 2^b levels of a b-bit grid and works at opset ≥ 11 (no int4 types needed).
 */
import { makeNode } from '../export/graphEdit';
import type { OnnxModel } from '../onnx/model';
import { DT, makeTensor } from '../onnx/tensor';
import { EditState } from './editState';

/** Per-tensor activation quantizer of one layer's input. */
export interface ActivationQuant {
  /** Step size (> 0). */
  scale: number;
  /** Zero point in the code domain: 0 for symmetric (signed codes), in [0, 2^bits) for unsigned. */
  zeroPoint: number;
  /** 2..8. */
  bits: number;
  /** Signed codes in [−(2^(b−1)−1), 2^(b−1)−1] (symmetric, SmoothQuant); default: unsigned [0, 2^b−1]. */
  signed?: boolean;
}

/** Symmetric absmax parameters (SmoothQuant per-tensor static): s = absMax / (2^(b−1) − 1). */
export function symmetricActivationQuant(absMax: number, bits: number): ActivationQuant {
  if (!(absMax > 0) || !Number.isFinite(absMax)) throw new Error(`activation absmax must be finite and > 0, got ${absMax}`);
  return { scale: absMax / (2 ** (bits - 1) - 1), zeroPoint: 0, bits, signed: true };
}

/** Asymmetric min-max parameters: s = (max − min)/(2^b − 1), zp = round(−min/s) (range widened to include 0). */
export function asymmetricActivationQuant(min: number, max: number, bits: number): ActivationQuant {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const scale = (hi - lo) / (2 ** bits - 1);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`activation range [${min}, ${max}] gives no usable scale`);
  return { scale, zeroPoint: Math.min(2 ** bits - 1, Math.max(0, Math.round(-lo / scale))), bits };
}

function codeRange(q: ActivationQuant): [number, number] {
  return q.signed ? [-(2 ** (q.bits - 1) - 1), 2 ** (q.bits - 1) - 1] : [0, 2 ** q.bits - 1];
}

/**
 * Inserts (Clip →) QuantizeLinear → DequantizeLinear before each listed layer on its input. Layers
 * sharing an input tensor with identical parameters share one QDQ. Returns a new model.
 */
export function insertActivationQdq(model: OnnxModel, quant: Record<string, ActivationQuant>): OnnxModel {
  if (model.opset < 11) throw new Error(`${model.path}: opset ${model.opset}; activation QDQ needs opset ≥ 11 (Clip with min/max inputs)`);
  const st = new EditState(model);
  const shared = new Map<string, string>();
  for (const [layer, q] of Object.entries(quant)) {
    const l = model.layer(layer);
    if (!Number.isInteger(q.bits) || q.bits < 2 || q.bits > 8)
      throw new Error(`layer '${layer}': activation bits ${q.bits} (expected 2..8)`);
    if (!(q.scale > 0) || !Number.isFinite(q.scale))
      throw new Error(`layer '${layer}': activation scale ${q.scale} (must be finite and > 0)`);
    const [qmin, qmax] = codeRange(q);
    if (!Number.isInteger(q.zeroPoint) || q.zeroPoint < qmin || q.zeroPoint > qmax)
      throw new Error(`layer '${layer}': zero point ${q.zeroPoint} outside [${qmin}, ${qmax}]`);
    const x = l.input;
    const key = `${x}|${q.scale}|${q.zeroPoint}|${q.bits}|${!!q.signed}`;
    let out = shared.get(key);
    if (!out) {
      const node = st.node(l.nodeRef);
      const base = `${x}_a${q.bits}`;
      const dtype = st.layerDtype(layer);
      if (dtype === DT.FLOAT16 && model.opset < 19)
        throw new Error(`${model.path}: layer '${layer}' is float16; float16 activation QDQ needs opset ≥ 19 (model has ${model.opset})`);
      const s = st.constant(`${base}_scale`, Float32Array.of(q.scale), [], dtype);
      const zpName = st.ed.unique(`${base}_zp`);
      const zpType = q.signed ? DT.INT8 : DT.UINT8;
      st.ed.addInitializer(
        makeTensor(zpName, zpType, [], q.signed ? new Uint8Array(Int8Array.of(q.zeroPoint).buffer) : Uint8Array.of(q.zeroPoint)),
      );
      const nodes = [];
      let src = x;
      if (q.signed || q.bits < 8) {
        // Clip to the b-bit code range (and to ±127 for symmetric int8, as SmoothQuant does).
        const lo = st.constant(`${base}_min`, Float32Array.of((qmin - q.zeroPoint) * q.scale), [], dtype);
        const hi = st.constant(`${base}_max`, Float32Array.of((qmax - q.zeroPoint) * q.scale), [], dtype);
        const clipped = st.ed.unique(`${base}_clipped`);
        nodes.push(makeNode('Clip', [src, lo, hi], [clipped], st.ed.unique(`${base}_Clip`)));
        src = clipped;
      }
      const qOut = st.ed.unique(`${base}_q`);
      out = st.ed.unique(`${base}_dq`);
      nodes.push(makeNode('QuantizeLinear', [src, s, zpName], [qOut], st.ed.unique(`${base}_Quantize`)));
      nodes.push(makeNode('DequantizeLinear', [qOut, s, zpName], [out], st.ed.unique(`${base}_Dequantize`)));
      st.ed.insertBefore(node, ...nodes);
      shared.set(key, out);
    }
    const node = st.node(l.nodeRef);
    node.input[0] = out;
  }
  return st.result();
}
