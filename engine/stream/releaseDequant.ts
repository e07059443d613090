/**
 * Frees a quantized layer's dequantized weight once its block is done, when the exporter can get it
 * back from the codes: `dequant` becomes a getter that recomputes (q − z)·s (in float64, rounded once
 * to float32, as the kernels form it). It is swapped only when the recomputation equals the kernel's
 * dequant bit for bit, so the export does not change. Streaming keeps one fp32 weight per
 * layer out of memory this way (the codes stay, one byte a weight).
 */
import type { QuantizedWeightLike } from '../export/types';
import type { QuantizedLayer } from '../quantize/quantizeLayers';

/** (q − z)·s for every weight; undefined when `q` cannot describe it (no codes, signed codes without zeros…). */
export function dequantFromCodes(q: QuantizedWeightLike): Float32Array | undefined {
  const { rows, cols, codes, scales, zeros, bits } = q;
  if (!codes || codes.length !== rows * cols) return undefined;
  const group = q.groupSize <= 0 || q.groupSize >= cols ? cols : q.groupSize;
  const nGroups = Math.ceil(cols / group);
  if (scales.length !== rows * nGroups || (zeros && zeros.length !== rows * nGroups)) return undefined;
  const mid = 2 ** (bits - 1);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = r * nGroups + Math.floor(c / group);
      out[r * cols + c] = (codes[r * cols + c] - (zeros ? zeros[g] : mid)) * scales[g];
    }
  }
  return out;
}

/** Replaces `layer.dequant` by a recomputing getter when that is exact; returns whether it did. */
export function releaseDequant(layer: QuantizedLayer): boolean {
  const q = layer.q as QuantizedWeightLike | undefined;
  if (!q || layer.lowRank || layer.inputScale || layer.binary) return false;
  if (!(q.codes instanceof Uint8Array)) return false;
  const again = dequantFromCodes(q);
  const d = layer.dequant;
  if (!again || again.length !== d.length) return false;
  for (let i = 0; i < d.length; i++) if (!Object.is(again[i], d[i])) return false;
  Object.defineProperty(layer, 'dequant', { get: () => dequantFromCodes(q)!, enumerable: true, configurable: true });
  return true;
}
