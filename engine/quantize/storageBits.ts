/**
 * Bits per weight as stored, per layer: codes + per-group scales (fp32) + zero points
 * (asymmetric only; MatMulNBits' default zero point covers the symmetric grid), for the
 * weight formats. `fake` stores dequantized float32 weights: 32 bits. For `packed` layers this is
 * only the estimate before export: exportStep replaces it by the bytes the exporter measured.
 */
import type { ExportFormat } from '../../protocol/plan';

/** Number of quantization groups in one row (ragged last group counts as one). */
export function groupsPerRow(cols: number, groupSize: number): number {
  return groupSize <= 0 || groupSize >= cols ? 1 : Math.ceil(cols / groupSize);
}

/** Stored bits per weight of one layer (excluding low-rank factors, which the caller adds). */
export function storedBitsPerWeight(format: ExportFormat, bits: number, cols: number, groupSize: number, symmetric: boolean): number {
  if (format === 'fake') return 32;
  const zpBits = symmetric ? 0 : bits;
  return bits + (groupsPerRow(cols, groupSize) * (32 + zpBits)) / cols;
}
