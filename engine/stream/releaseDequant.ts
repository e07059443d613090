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
  if (!describable(q)) return undefined;
  const out = new Float32Array(q.rows * q.cols);
  forEachDequant(q, (i, v) => {
    out[i] = v;
    return true;
  });
  return out;
}

function describable(q: QuantizedWeightLike): boolean {
  const { rows, cols, codes, scales, zeros } = q;
  if (!codes || codes.length !== rows * cols) return false;
  const group = q.groupSize <= 0 || q.groupSize >= cols ? cols : q.groupSize;
  const nGroups = Math.ceil(cols / group);
  return scales.length === rows * nGroups && (!zeros || zeros.length === rows * nGroups);
}

/** Calls `use(index, (q − z)·s)` in row-major order while it returns true; returns whether it ran to the end. */
function forEachDequant(q: QuantizedWeightLike, use: (i: number, v: number) => boolean): boolean {
  const { rows, cols, codes, scales, zeros, bits } = q;
  const group = q.groupSize <= 0 || q.groupSize >= cols ? cols : q.groupSize;
  const nGroups = Math.ceil(cols / group);
  const mid = 2 ** (bits - 1);
  const f = new Float32Array(1);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = r * nGroups + Math.floor(c / group);
      f[0] = (codes[r * cols + c] - (zeros ? zeros[g] : mid)) * scales[g];
      if (!use(r * cols + c, f[0])) return false;
    }
  }
  return true;
}

/**
 * Replaces `layer.dequant` by a recomputing getter when that is exact; returns whether it did. The
 * check compares value by value, without a second full-size copy (the LM head's is 262 MB).
 */
export function releaseDequant(layer: QuantizedLayer): boolean {
  const q = layer.q as QuantizedWeightLike | undefined;
  if (!q || layer.lowRank || layer.inputScale || layer.binary) return false;
  if (!(q.codes instanceof Uint8Array) || !describable(q)) return false;
  const d = layer.dequant;
  if (d.length !== q.rows * q.cols) return false;
  if (!forEachDequant(q, (i, v) => Object.is(v, d[i]))) return false;
  recomputeOnRead(layer, q);
  // The kernel's result object holds the same array: let it go too, so the copy is really freed.
  if ((q as { dequant?: Float32Array }).dequant === d) delete (q as { dequant?: Float32Array }).dequant;
  return true;
}

/**
 * Makes `layer.dequant` the recomputing getter. Its closure is made here, not in releaseDequant: a
 * closure shares its function's context, and releaseDequant's context holds the array being released
 * (its check reads it from a closure), so a getter made there kept every layer's fp32 weight alive
 * (found in a heap snapshot: 4 bytes a weight retained per finished layer, the block-start creep).
 */
function recomputeOnRead(layer: QuantizedLayer, q: QuantizedWeightLike): void {
  Object.defineProperty(layer, 'dequant', { get: () => dequantFromCodes(q)!, enumerable: true, configurable: true });
}
