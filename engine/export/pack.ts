/**
 * Code normalization and bit packing for MatMulNBits (docs/algorithms.md §7) and 4-bit ONNX tensors.
 */
import type { QuantizedWeightLike } from './types';

/** Unsigned codes with integer zero points, checked against the dequantized weight. */
export interface NormalizedQuant {
  bits: number;
  rows: number;
  cols: number;
  /** Columns per group (cols when per-row). */
  group: number;
  nGroups: number;
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
  /** Every zero point equals 2^(bits−1). */
  defaultZeros: boolean;
  /**
   * Real-valued zero points (HQQ's `zero_point: float`), when the caller allowed them and some are not
   * integers: ŵ = (q − z)·s with these; `zeros` then holds them rounded into [0, 2^bits), used only to pad.
   */
  floatZeros?: Float32Array;
}

export interface NormalizeOptions {
  /** Accept non-integer zero points (returned in `floatZeros`) instead of throwing ExportUnsupported: MatMulNBits stores them as the scales' type. */
  floatZeros?: boolean;
}

/** Thrown when a layer cannot be written the way it was asked (the exporter falls back). */
export class ExportUnsupported extends Error {}

/**
 * Converts a kernel result to unsigned codes + uint8 zero points and verifies that (q − z)·s
 * reproduces `dequant`. Throws an Error naming the layer when the data is inconsistent, and
 * ExportUnsupported when zero points are not integers (unless `opts.floatZeros`: then they come back
 * in `floatZeros`).
 */
export function normalizeQuant(layer: string, q: QuantizedWeightLike, dequant: Float32Array, opts: NormalizeOptions = {}): NormalizedQuant {
  const { bits, rows, cols } = q;
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) throw new Error(`layer '${layer}': ${bits} bits cannot be exported (1–8 supported)`);
  const group = q.groupSize <= 0 || q.groupSize >= cols ? cols : q.groupSize;
  const nGroups = Math.ceil(cols / group);
  const n = rows * cols;
  if (q.codes.length !== n || dequant.length !== n)
    throw new Error(`layer '${layer}': ${q.codes.length} codes / ${dequant.length} dequantized values for a ${rows}×${cols} weight`);
  if (q.scales.length !== rows * nGroups)
    throw new Error(`layer '${layer}': ${q.scales.length} scales, expected ${rows}×${nGroups} (group size ${q.groupSize})`);
  if (q.zeros && q.zeros.length !== rows * nGroups)
    throw new Error(`layer '${layer}': ${q.zeros.length} zero points, expected ${rows * nGroups}`);
  const mid = 2 ** (bits - 1);
  const max = 2 ** bits - 1;
  let signed = false;
  if (!(q.codes instanceof Uint8Array))
    for (let i = 0; i < n; i++)
      if (q.codes[i] < 0) {
        signed = true;
        break;
      }
  const shift = signed && !q.zeros ? mid : 0;
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = q.codes[i] + shift;
    if (!(c >= 0 && c <= max && Number.isInteger(c)))
      throw new Error(`layer '${layer}': code ${q.codes[i]} at [${Math.floor(i / cols)}, ${i % cols}] is outside ${bits}-bit range`);
    codes[i] = c;
  }
  const zeros = new Uint8Array(rows * nGroups);
  let defaultZeros = true;
  let floatZeros: Float32Array | undefined;
  if (opts.floatZeros && q.zeros && Array.from(q.zeros as ArrayLike<number>).some((z) => !Number.isInteger(z + shift))) {
    floatZeros = new Float32Array(zeros.length);
    for (let i = 0; i < zeros.length; i++) {
      const z = q.zeros[i] + shift;
      if (!Number.isFinite(z)) throw new Error(`layer '${layer}': zero point ${q.zeros[i]} of group ${i} is not a finite number`);
      floatZeros[i] = z;
      zeros[i] = Math.min(max, Math.max(0, Math.round(z)));
    }
    defaultZeros = false;
  } else
    for (let i = 0; i < zeros.length; i++) {
      const z = q.zeros ? q.zeros[i] + shift : mid;
      if (!Number.isInteger(z) || z < 0 || z > max)
        throw new ExportUnsupported(`layer '${layer}': zero point ${q.zeros![i]} is not an integer in [0, ${max}]`);
      zeros[i] = z;
      if (z !== mid) defaultZeros = false;
    }
  const zeroOf = floatZeros ?? zeros;
  let amax = 0;
  for (let i = 0; i < n; i++) amax = Math.max(amax, Math.abs(dequant[i]));
  const tol = 1e-5 * amax + 1e-7;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const g = r * nGroups + Math.floor(c / group);
      const w = (codes[r * cols + c] - zeroOf[g]) * q.scales[g];
      if (Math.abs(w - dequant[r * cols + c]) > tol)
        throw new Error(
          `layer '${layer}': codes/scales/zeros give ${w} at [${r}, ${c}] but the dequantized weight is ${dequant[r * cols + c]}`,
        );
    }
  }
  return { bits, rows, cols, group, nGroups, codes, scales: q.scales, zeros, defaultZeros, ...(floatZeros ? { floatZeros } : {}) };
}

/** Writes `bits`-bit values little-endian into `out` starting at bit `bitOffset`. */
function put(out: Uint8Array, bitOffset: number, bits: number, v: number): void {
  if (bits === 8) {
    out[bitOffset >> 3] = v;
    return;
  }
  out[bitOffset >> 3] |= v << (bitOffset & 7);
}

/**
 * Packs codes for MatMulNBits: B uint8 (N, ceil(K/bs), bs·bits/8); within a block element j sits at
 * bit offset j·bits (low bits first). The padded tail of the last block is filled with the zero point.
 */
export function packMatMulNBitsB(nq: NormalizedQuant, blockSize: number): Uint8Array {
  const { rows, cols, bits } = nq;
  if (![2, 4, 8].includes(bits)) throw new ExportUnsupported(`MatMulNBits stores 2, 4 or 8 bits, not ${bits}`);
  const kb = Math.ceil(cols / blockSize);
  const blockBytes = (blockSize * bits) / 8;
  const out = new Uint8Array(rows * kb * blockBytes);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < kb; b++) {
      const base = (r * kb + b) * blockBytes * 8;
      for (let j = 0; j < blockSize; j++) {
        const c = b * blockSize + j;
        const v = c < cols ? nq.codes[r * cols + c] : nq.zeros[r * nq.nGroups + Math.floor((cols - 1) / nq.group)];
        put(out, base + j * bits, bits, v);
      }
    }
  }
  return out;
}

/** Packs per-(row, block) zero points along the block axis: uint8 (N, ceil(kb·bits/8)). */
export function packMatMulNBitsZeros(nq: NormalizedQuant): Uint8Array {
  const { rows, nGroups, bits } = nq;
  const rowBytes = Math.ceil((nGroups * bits) / 8);
  const out = new Uint8Array(rows * rowBytes);
  for (let r = 0; r < rows; r++) for (let g = 0; g < nGroups; g++) put(out, r * rowBytes * 8 + g * bits, bits, nq.zeros[r * nGroups + g]);
  return out;
}

/** Packs 4-bit values two per byte, low nibble first (ONNX uint4/int4 raw_data). */
export function packNibbles(values: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1] |= (values[i] & 15) << ((i & 1) * 4);
  return out;
}
