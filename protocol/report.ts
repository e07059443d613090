/**
 * The versioned report document: written next to the compressed model as JSON, printed by
 * `lowbit run --json`, read by the webviews, the hover provider and the tests. Keys are snake_case
 * because it is a file format. Bump REPORT_VERSION on any incompatible change.
 */
export const REPORT_VERSION = 2;

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
  /** MatMulNBits accuracy_level the model was written and evaluated with (0 = unset/exact, 4 = int8 activations). */
  accuracy_level?: number;
  calibration: { kind: string; samples: number; tokens?: number; mode: string };
  metrics: {
    fp: QualityMetrics;
    quantized: QualityMetrics;
    kl_divergence?: { mean: number; p50?: number; p99: number; max?: number };
    top1_agreement?: number;
    /** Output agreement with FP for any model (cosine, SQNR in dB, argmax agreement). */
    output_agreement?: { cosine: number; sqnr_db: number; argmax_agreement: number };
    /** Prefill and per-token decode latency, FP vs compressed (text models, metric `latency`). */
    decode_latency?: DecodeLatency;
    /** Greedy generation from `evaluate.generate.prompt` with both models. */
    generation?: GenerationReport;
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
  /** The residual-stream rotation applied before calibration (recipe `rotation:`), absent when none. */
  rotation?: RotationReport;
  timings_s: { load: number; calibrate: number; quantize: number; export: number; evaluate: number; total: number };
  warnings: string[];
}

/** What the offline rotation did (engine/transforms/rotation.ts): panels can show it per layer. */
export interface RotationReport {
  method: 'hadamard';
  seed: number;
  /** Order of R = width of the residual stream. */
  size: number;
  /** How R was built: `hadamard 2^k`, `hadamard 2^k ⊗ paley m`, or `random orthogonal`. */
  construction: string;
  /** The embedding table whose rows became E·R. */
  embedding: string;
  /** Norm nodes whose γ was folded into the linears after them (and set to 1). */
  norms: string[];
  /**
   * Every rotated layer: `reads` the stream (W ← Rᵀ·diag(γ)·W) or `writes` it (W ← W·R), with its
   * weight's kurtosis and max|w|/rms before (γ folded, not rotated) and after: outliers spread.
   */
  layers: {
    name: string;
    side: 'reads' | 'writes';
    kurtosis_before: number;
    kurtosis_after: number;
    peak_before: number;
    peak_after: number;
  }[];
  /** Online rotations: an inserted MatMul by a constant orthogonal matrix before these layers (their weight became Qᵀ·W). */
  online?: { layer: string; size: number; construction: string }[];
  /**
   * A tied LM head (it read the embedding table) was given its own copy of the table before rotating,
   * since the two sides rotate differently: the copy's float bytes (before any quantization).
   */
  untied?: { embedding: string; head: string; bytes: number };
  /** Other embedding tables added into the stream (learned positions, token types): their rows became E·R too. */
  tables?: string[];
  /**
   * A LayerNorm model made rotatable (QuaRot/SliceGPT): the stream was centred (every writer W·C and
   * b·C, embedding and table rows minus their mean, C = I − 11ᵀ/d), so each LayerNorm equals an RMSNorm;
   * each was rewritten as one with γ = 1, its γ folded into the linears after it and its β into their
   * biases (β·W added, or a new bias).
   */
  layer_norm?: {
    /** The LayerNorms rewritten as RMSNorms (node names; the decomposed form's last node). */
    rewritten: string[];
    /** What was centred: writer layers, the embedding, tables and stream biases. */
    centred: string[];
    /** Readers that got a new bias (β·W) because they had none. */
    new_biases: string[];
  };
}

/**
 * How a decoder's latency was measured: batch 1, a prefill of `prompt_tokens`, then `decode_tokens`
 * greedy single-token steps, through the KV cache (`kv_cache`) or by re-running the whole sequence
 * (`full_sequence`, graphs without a cache). Medians (of 5 prefills, of every step) after a warm-up.
 */
export interface DecodeLatency {
  mode: 'kv_cache' | 'full_sequence';
  prompt_tokens: number;
  decode_tokens: number;
  /** onnxruntime intra-op threads (0 = its default). */
  threads: number;
  fp: { prefill_ms: number; decode_ms_per_token: number };
  quantized: { prefill_ms: number; decode_ms_per_token: number };
}

/** Greedy generation of `tokens` new tokens after `prompt`, FP vs compressed. */
export interface GenerationReport {
  prompt: string;
  prompt_tokens: number;
  tokens: number;
  mode: 'kv_cache' | 'full_sequence';
  fp: { text: string; ids: number[] };
  quantized: { text: string; ids: number[] };
  /** First generated position (0-based) where the two differ; null when they agree throughout. */
  first_divergence: number | null;
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
  /**
   * The other side of a tied table (an embedding Gather and the LM head reading one tensor), when both
   * were quantized: they share one quantized table, and its params count once in `size`.
   */
  tied_with?: string;
  /** Method internals for the panels; each present only for the methods that produce it. */
  gptq?: { loss: number; damp: number; damp_retries: number };
  /** GPTAQ (gptq with asymmetric: true): α, and how far the quantized-prefix inputs drifted, ‖D‖_F/‖H‖_F (D = 2/N·Σ (x − x̃)x̃ᵀ). */
  gptaq?: { alpha: number; cross_ratio: number };
  awq?: { alpha: number; clip_ratio?: number };
  /** HQQ: accepted iterations and the objective mean|W − Ŵ| at the start and after each of them
   *  (never increasing), the returned weight's objective (`final`) and whether zero points are integers. */
  hqq?: { iterations: number; objective: number[]; final: number; zero_point: 'integer' | 'float' };
  /** AdaRound: weights rounded the other way than to nearest (count and fraction), tr(ΔHΔᵀ) of nearest
   *  and of the learned rounding on the same grid (`base`'s scales), and the optimizer steps. */
  adaround?: { flips: number; flip_fraction: number; loss_nearest: number; loss: number; iterations: number; base: 'rtn' | 'gptq' };
  /** SmoothQuant: α; OS+: the chosen threshold t (in `alpha`). activation_bits: static activation QDQ bits, when quantized. */
  smoothing?: { alpha: number; scale_range: [number, number]; activation_bits?: number };
  binarization?: BinarizationDetails;
  low_rank?: LowRankDetails;
  /** Pruned layers (sparsegpt, wanda, magnitude). */
  sparsity?: SparsityDetails;
  /** JSQ: ρ of the saliency, the activation-editing search (clip fractions tried with their relative
   *  output error on the sample, the chosen one and its threshold |x| ≤ τ), SmoothQuant's α. */
  jsq?: JsqDetails;
  sensitivity?: { proxy: number; kl?: number };
}

export interface SparsityDetails {
  /** What the recipe asked: a fraction (`"0.5"`) or an N:M pattern (`"2:4"`). */
  pattern: string;
  /** Fraction of the layer's weights pruned (stored as exact zeros). */
  pruned: number;
  /**
   * How the written file stores the pruned weights: `bitmap` (packed: one bit a weight + the surviving
   * codes), `index` (packed: N:M pattern codes + the surviving codes) or `dense` (zeros stored like any
   * other weight: MatMulNBits, QDQ, fake-quant). Absent until the model is written.
   */
  storage?: 'bitmap' | 'index' | 'dense';
  /** Kept fraction per cell of the mask downsampled to at most 32×32 (row-major, 1 = all kept), with its shape. */
  mask: { rows: number; cols: number; values: number[] };
  /** Hessian saliency w²·H_jj of the FP weight (OBD's diagonal term), cell means on the same grid as `mask`. */
  saliency: { rows: number; cols: number; values: number[] };
}

export interface JsqDetails {
  rho: number;
  alpha: number;
  /** The chosen clip fraction (the top fraction of |x| in the sample clipped) and its threshold τ (Infinity-free: null = no clip). */
  clip_fraction: number;
  clip_threshold: number | null;
  /** Every candidate fraction with its relative output error ‖XWᵀ − X̂Ŵᵀ‖²/‖XWᵀ‖² on the token sample. */
  search: { fraction: number; error: number }[];
  /** Tokens of the sample the search ran on. */
  sample_tokens: number;
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
  /** tr(ΔHΔᵀ)/tr(WHWᵀ) of the plain quantized weight Q(W) — the same ratio as LayerReport.rel_error
   *  (report version 1 held its square root here; {@link upgradeReport} converts). */
  rel_error_before: number;
  /** The same ratio for Q + L·R (equals the layer's rel_error). */
  rel_error_after: number;
}

/**
 * A parsed report of any version this build reads, as the current version. Version 1 → 2:
 * `low_rank.rel_error_before/after` held sqrt(tr(ΔHΔᵀ)/tr(WHWᵀ)); they are squared into the ratio
 * `rel_error` means everywhere. Anything else (not an object, an unknown version) is returned as it
 * is, for the checker to name.
 */
export function upgradeReport(r: unknown): unknown {
  if (typeof r !== 'object' || r === null || (r as { version?: unknown }).version !== 1) return r;
  const v1 = r as { layers?: unknown };
  const layers = Array.isArray(v1.layers)
    ? v1.layers.map((l: unknown) => {
        const lr = (l as { low_rank?: { rel_error_before?: unknown; rel_error_after?: unknown } } | null)?.low_rank;
        if (!lr || typeof lr.rel_error_before !== 'number' || typeof lr.rel_error_after !== 'number') return l;
        return {
          ...(l as object),
          low_rank: { ...lr, rel_error_before: lr.rel_error_before ** 2, rel_error_after: lr.rel_error_after ** 2 },
        };
      })
    : v1.layers;
  return { ...r, version: REPORT_VERSION, layers };
}
