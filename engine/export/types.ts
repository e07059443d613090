/** Inputs and outputs of the exporter. */
import type { ExportFormat, StoredFormat } from '../../protocol/plan';
import type { ModelProto } from '../onnx/onnxProto';

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
  /** Compact form of a binarized layer (no integer grid), for the `packed` format. */
  binary?: BinaryForm;
  /** A pruned layer (sparsegpt, wanda, magnitude): `packed` keeps a bitmap and only the nonzero codes. */
  sparse?: boolean;
  /** Its N:M pattern (n of every m consecutive input columns pruned): `packed` may store index codes instead of the bitmap. */
  nm?: { n: number; m: number };
}

/** The `sparse` / `nm` fields of a layer result, from the kernel's sparsity report. */
export function sparseFields(s: { pattern: string; pruned: number } | undefined): Pick<LayerResult, 'sparse' | 'nm'> {
  if (!s || !(s.pruned > 0)) return { sparse: false };
  const nm = /^(\d+):(\d+)$/.exec(s.pattern);
  return nm ? { sparse: true, nm: { n: Number(nm[1]), m: Number(nm[2]) } } : { sparse: true };
}

/**
 * Compact forms of the binarized methods as the kernels return them (native/ts/binaryLowRank.ts), W [rows,
 * cols]. Masks and bits are one byte per entry unless said otherwise; parameter tables are
 * rows × ceil(cols/group) × k, row-major.
 * - billm: bit planes (one bit per entry, bit index r·cols + c, little-endian); `salientCols` one bit
 *   per column; `scales` k = 8 (see decodeBillm), `group` = the kernel's block size.
 * - pbllm: `mask` 1 = binarized; `binParams` (α, μ), `q8Params` (scale, zero) of the `highBits`-bit grid
 *   (8 by default) of the other entries (their codes are recovered from the dequantized weight and checked).
 * - dualbin: ŵ = α₁b₁ + α₂b₂, `alphas` (α₁, α₂).
 */
export type BinaryForm =
  | {
      kind: 'billm';
      group: number;
      sign1: Uint8Array;
      sign2: Uint8Array;
      groupBits: Uint8Array;
      salientCols: Uint8Array;
      scales: Float32Array;
    }
  | { kind: 'pbllm'; group: number; mask: Uint8Array; binParams: Float32Array; q8Params: Float32Array; highBits?: number }
  | { kind: 'dualbin'; group: number; b1: Uint8Array; b2: Uint8Array; alphas: Float32Array };

export interface ExportOptions {
  /** The model's format; `auto` without a per-layer entry: MatMul → matmulnbits, other ops → qdq. */
  format: ExportFormat;
  /** Per-layer stored formats (the plan's `LayerPlan.format`), overriding `format`. */
  layerFormats?: ReadonlyMap<string, StoredFormat>;
  /** MatMulNBits accuracy_level (0 = unset, exact). */
  accuracyLevel?: number;
  /**
   * `packed` N:M layers: `smaller` (default) stores index codes where they take fewer bytes than the
   * bitmap, decode nodes included; `index` / `bitmap` force one form (tests, comparisons).
   */
  sparseForm?: 'smaller' | 'index' | 'bitmap';
}

/** How each layer was written. */
export interface LayerExport {
  layer: string;
  written: 'matmulnbits' | 'qdq' | 'packed' | 'fake';
  /** A pruned layer's storage: `packed` bitmap or N:M index codes; other formats keep dense zeros. */
  sparseForm?: 'bitmap' | 'index' | 'dense';
  /** Why a layer was written in another format than asked for. */
  note?: string;
  /**
   * Bytes of the layer's stored form: `packed` its initializers + decode nodes; other formats the raw
   * bytes of the initializers the layer added (codes, scales, zero points, low-rank factors, weights).
   */
  storedBytes?: number;
  /** Written as MatMulNBits with real-valued zero points (float, one per group) instead of packed integers. */
  floatZeros?: boolean;
}

export interface ExportResult {
  bytes: Uint8Array;
  layers: LayerExport[];
  /** Default-domain opset of the written model. */
  opset: number;
}

/** The compressed model before serialization (see `exportModelProto`). */
export interface ExportProtoResult extends Omit<ExportResult, 'bytes'> {
  proto: ModelProto;
}
