/** Inputs and outputs of the exporter. */
import type { ExportFormat } from '../../protocol/plan';

/**
 * Quantized codes of one layer as the native kernels return them (structurally compatible with the
 * addon's QuantizedWeight): unpacked, W [rows = out, cols = in], groups of `groupSize` columns
 * (-1 or ≥ cols = one group per row). Dequantization is ŵ = (q − z)·s.
 * Codes are unsigned in [0, 2^bits) with `zeros` in the same domain; when `zeros` is absent the
 * zero point is 2^(bits−1) — or, for signed codes (Int8Array/Int32Array with negatives), 0 (the
 * exporter then shifts codes by 2^(bits−1)).
 */
export interface QuantizedWeightLike {
  bits: number;
  groupSize: number;
  rows: number;
  cols: number;
  codes: Uint8Array | Int8Array | Int16Array | Int32Array;
  scales: Float32Array;
  zeros?: Float32Array | Uint8Array | Int32Array;
}

/** A rank-r correction W ≈ Ŵ + L·R. */
export interface LowRankFactors {
  /** out × r, row-major. */
  L: Float32Array;
  /** r × in, row-major. */
  R: Float32Array;
  rank: number;
}

/** One layer's compression result. */
export interface LayerResult {
  /** Layer name (= weight tensor name). */
  layer: string;
  /** Dequantized weight W [out, in] row-major (with any input scale already folded in). */
  dequant: Float32Array;
  q?: QuantizedWeightLike;
  lowRank?: LowRankFactors;
  /** Per-input-channel divisor: the exporter inserts x · (1/s) before the layer (AWQ/SmoothQuant unfolded). */
  inputScale?: Float32Array;
}

export interface ExportOptions {
  format: ExportFormat;
  /** MatMulNBits accuracy_level (0 = unset, exact). */
  accuracyLevel?: number;
}

/** How each layer was written. */
export interface LayerExport {
  layer: string;
  written: 'matmulnbits' | 'qdq' | 'fake';
  /** Why a layer was written in another format than asked for. */
  note?: string;
}

export interface ExportResult {
  bytes: Uint8Array;
  layers: LayerExport[];
  /** Default-domain opset of the written model. */
  opset: number;
}
