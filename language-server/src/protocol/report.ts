/**
 * The versioned report document: written next to the compressed model as JSON, printed by
 * `lowbit run --json`, read by the webviews, the hover provider and the tests. Keys are snake_case
 * because it is a file format. Bump REPORT_VERSION on any incompatible change.
 */
export const REPORT_VERSION = 1;

/** A format a layer is written in. */
export type StoredFormatName = 'matmulnbits' | 'qdq' | 'packed' | 'fake';

export interface QualityMetrics {
  perplexity?: number;
  /** Mean wall time of one evaluation batch, milliseconds. */
  latency_ms?: number;
  accuracy_top1?: number;
  accuracy_top5?: number;
  /** Character error rate (OCR models). */
  cer?: number;
}

export interface Report {
  version: typeof REPORT_VERSION;
  created_at: string;
  tool: { name: 'lowbit'; version: string };
  recipe: string | null;
  model: string;
  output: string;
  /** The recipe's format; `auto` picks per layer (each layer's `format` says what it was written as). */
  format: 'auto' | StoredFormatName;
  calibration: { kind: string; samples: number; tokens?: number; mode: string };
  metrics: {
    fp: QualityMetrics;
    quantized: QualityMetrics;
    kl_divergence?: { mean: number; p50?: number; p99: number; max?: number };
    top1_agreement?: number;
    /** Output agreement with FP for any model (cosine, SQNR in dB, argmax agreement). */
    output_agreement?: { cosine: number; sqnr_db: number; argmax_agreement: number };
  };
  size: {
    fp_bytes: number;
    quantized_bytes: number;
    /** Bits per quantized weight as stored (codes + scales + zero points + masks + low-rank factors). */
    bits_per_weight: number;
    /** Parameters in quantized layers / total parameters in the model. */
    quantized_params: number;
    total_params: number;
    /**
     * The compressed file's bytes by how they are stored: one entry per written format (the quantized
     * layers' codes, scales, zero points and factors), then `float` for everything else (weights left
     * in full precision, biases, the graph).
     */
    by_format?: { format: StoredFormatName | 'float'; layers: number; bytes: number }[];
  };
  layers: LayerReport[];
  /** Float tensors of at least 16 KiB the output still stores in full precision, why, and their share of the output file. */
  left_alone?: { name: string; bytes: number; share: number; reason: string }[];
  timings_s: { load: number; calibrate: number; quantize: number; export: number; evaluate: number; total: number };
  warnings: string[];
}

export interface LayerReport {
  name: string;
  op: string;
  /** [out, in] of the weight as the quantizer sees it (W is out × in). */
  shape: [number, number];
  params: number;
  method: string;
  bits: number;
  group_size: number;
  symmetric: boolean;
  /** Relative output error tr(ΔHΔᵀ)/tr(WHWᵀ) under the calibration Hessian. */
  rel_error: number;
  /** Bits per weight for this layer as stored. */
  bits_per_weight: number;
  /** How the exporter wrote the layer (under `format: auto`, chosen per layer). */
  format?: StoredFormatName;
  /** Bytes of the layer's stored form in the output (see LayerExport.storedBytes). */
  stored_bytes?: number;
  /**
   * Bits per weight the onnxruntime session holds for this layer, when that differs from the stored
   * form: `packed` layers are decoded (constant-folded) to the model's float type at load (32 or 16).
   */
  runtime_bits_per_weight?: number;
  /** Rule indices in the recipe that governed this layer. */
  rules: number[];
  /** Method internals for the panels; each present only for the methods that produce it. */
  gptq?: { loss: number; damp: number; damp_retries: number };
  awq?: { alpha: number; clip_ratio?: number };
  /** SmoothQuant: α; OS+: the chosen threshold t (in `alpha`). activation_bits: static activation QDQ bits, when quantized. */
  smoothing?: { alpha: number; scale_range: [number, number]; activation_bits?: number };
  binarization?: BinarizationDetails;
  low_rank?: LowRankDetails;
  sensitivity?: { proxy: number; kl?: number };
}

export interface BinarizationDetails {
  /** Saliency map downsampled to at most 64×64 (row-major), with its shape. */
  saliency: { rows: number; cols: number; values: number[] };
  /** Per-column saliency profile (downsampled to at most 256 entries). */
  column_profile: number[];
  salient_columns: number[];
  split_points: number[];
  bits_claimed: number;
  bits_stored: number;
}

export interface LowRankDetails {
  rank: number;
  /** Singular value / amax curve used to choose the rank (first entries). */
  curve: number[];
  storage_overhead: number;
  rel_error_before: number;
  rel_error_after: number;
}
