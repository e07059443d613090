// Generated from recipe/schema.ts by recipe/typesGen.ts. Do not edit.
/* eslint-disable */

/** Settings of method `rtn`. */
export interface RtnSettings {
  /** Shrink each group's range to the clip ratio that minimizes the rounding error (GPTQ `quant.py` MSE search: norm 2.4, the range shrunk in 1% steps by up to 80%). */
  mse_clip?: boolean;
}

/** Settings of method `gptq`. */
export interface GptqSettings {
  /** Hessian dampening as a fraction of mean(diag H) (`percdamp`). Retried ×10 if H is not positive definite. */
  damp?: number;
  /** Columns per lazy-batch block `B`. */
  block_size?: number;
  /** Quantize columns in order of decreasing `diag H` (with groups, exported as static groups). */
  act_order?: boolean;
  /** Compute every group's grid up front from the unmodified weights. */
  static_groups?: boolean;
  /** **GPTAQ** — Li et al., *GPTAQ: Efficient Finetuning-Free Quantization for Asymmetric Calibration* (ICML 2025, arXiv 2504.02692). Match the quantized layer on the quantized-prefix inputs X̃ to the float layer on the float inputs X (minimize ‖WX − QX̃‖²): the cross term (X − X̃)X̃ᵀ enters every column update. Needs `calibration.mode: sequential` (with parallel calibration X̃ = X and it is plain GPTQ); not for Conv layers yet. */
  asymmetric?: boolean;
  /** GPTAQ's weight α of the asymmetric term (the authors' 0.25); only read with `asymmetric: true`. 0 gives GPTQ on the quantized-prefix inputs. */
  asymmetric_alpha?: number;
}

/** Settings of method `awq`. */
export interface AwqSettings {
  /** Number of α values tried in [0, 1). */
  n_grid?: number;
  /** Search a per-group clipping threshold after scaling (skipped for q/k projections, and for pruned layers). */
  clip?: boolean;
  /** With a rule's `sparsity`: how the scaled layer is pruned after the scales are chosen — `wanda` (|W̃|·‖X̃_j‖₂ per output row, then RTN of the survivors) or `sparsegpt` (the OBS solve with the mask, joint with quantization; `damp` and `block_size` are SparseGPT's defaults). Unused without `sparsity`. */
  sparsity_method?: "wanda" | "sparsegpt";
}

/** Settings of method `smoothquant`. */
export interface SmoothquantSettings {
  /** Migration strength α (0.5 default; 0.8–0.9 for Llama-2 / Mistral). */
  alpha?: number;
  /** Also quantize the layer inputs: static per-tensor symmetric fake quantization (QDQ) of the smoothed activations at this many bits (8 = W8A8; 4 and 6 are simulated on int8). 0 (the default) keeps activations in floating point: weight-only. */
  activation_bits?: 0 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
  /** With a rule's `sparsity`: how the scaled layer is pruned after the scales are chosen — `wanda` (|W̃|·‖X̃_j‖₂ per output row, then RTN of the survivors) or `sparsegpt` (the OBS solve with the mask, joint with quantization; `damp` and `block_size` are SparseGPT's defaults). Unused without `sparsity`. */
  sparsity_method?: "wanda" | "sparsegpt";
}

/** Settings of method `osplus`. */
export interface OsplusSettings {
  /** Also shift activations by the channel midpoint (folded into biases). */
  shift?: boolean;
  /** Minimum number of thresholds searched. */
  steps?: number;
  /** Also quantize the layer inputs: static per-tensor symmetric fake quantization (QDQ) of the smoothed activations at this many bits (8 = W8A8; 4 and 6 are simulated on int8). 0 (the default) keeps activations in floating point: weight-only. */
  activation_bits?: 0 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
}

/** Settings of method `billm`. */
export interface BillmSettings {
  /** Hessian dampening as a fraction of mean(diag H) (`percdamp`). Retried ×10 if H is not positive definite. */
  damp?: number;
  /** Columns per block (= group). */
  block_size?: number;
  /** How column saliency is scored. */
  salient_metric?: "hessian" | "magnitude";
  /** Largest number of salient columns searched per block (`up_lim`). */
  max_salient?: number;
}

/** Settings of method `pbllm`. */
export interface PbllmSettings {
  /** Hessian dampening as a fraction of mean(diag H) (`percdamp`). Retried ×10 if H is not positive definite. */
  damp?: number;
  /** Fraction of weights binarized (bits ≈ low_frac + high_bits·(1−low_frac)). */
  low_frac?: number;
  /** Bits of the salient weights. */
  high_bits?: number;
  /** Saliency score used for the mask. */
  saliency?: "hessian" | "magnitude";
}

/** Settings of method `dualbin`. */
export interface DualbinSettings {
  /** Alternating refits of the binary codes and the per-group (α₁, α₂). */
  iterations?: number;
  /** The 2-bit starting point of the refit. With `iterations: 0` the result is that starting point. */
  init?: "rtn" | "gptq";
}

/** Settings of method `flrq`. */
export interface FlrqSettings {
  /** Largest low-rank storage overhead as a fraction of the layer (`x`). */
  max_extra_storage?: number;
  /** BLC epochs: refits of the low rank to `W − W_q` and requantizations, keeping the best by `tr(ΔHΔᵀ)` (the paper: ~1 at 3–4 bits, ~20 at 2 bits; the authors' default GPTQ path: 0). */
  blc_epochs?: number;
  /** Power iterations of R1-Sketch (the authors' code: 8; the spec: 2). */
  sketch_iterations?: number;
  /** Stop adding ranks when the amax curve's relative slope is below this (`rank_rule: spec` only). */
  slope_threshold?: number;
  /** Scale columns by activation magnitude before rank selection. */
  activation_scaling?: boolean;
  /** Exponent e of the activation scaling `s = mean|x|^e / sqrt(max·min)` (the authors' code: 2.4; the spec: 2.5). */
  activation_exponent?: number;
  /** How R1-FLR picks the rank. */
  rank_rule?: "authors" | "spec";
  /** How the residual `W − W_r` (at initialization and in every BLC epoch) is quantized: `rtn` = symmetric absmax round-to-nearest (FLRQ Eq. 8), `gptq` = GPTQ against the calibration Hessian on its symmetric grid (damp 0.01, block 128, act-order; no zero points stored), `gptq_asym` = the FLRQ authors' GPTQ on the asymmetric min-max grid with an MSE range search (zero points stored). */
  quantizer?: "rtn" | "gptq" | "gptq_asym";
}

/** Settings of method `lorc`. */
export interface LorcSettings {
  /** Rank r of the error correction. */
  rank?: number;
  /** Bits of the low-rank factors. */
  factor_bits?: 8 | 16 | 32;
  /** How the weight (before the SVD of its quantization error) is quantized: `rtn` = symmetric absmax round-to-nearest (FLRQ Eq. 8), `gptq` = GPTQ against the calibration Hessian on its symmetric grid (damp 0.01, block 128, act-order; no zero points stored), `gptq_asym` = the FLRQ authors' GPTQ on the asymmetric min-max grid with an MSE range search (zero points stored). */
  quantizer?: "rtn" | "gptq" | "gptq_asym";
}

/** Settings of method `lqer`. */
export interface LqerSettings {
  /** Rank k of the error reconstruction. */
  rank?: number;
  /** Bits of the low-rank factors. */
  factor_bits?: 8 | 16 | 32;
  /** Use L²QER's `S = diag(mean|x|)` (false = plain SVD). */
  activation_scaled?: boolean;
  /** How the weight (before the SVD of its quantization error) is quantized: `rtn` = symmetric absmax round-to-nearest (FLRQ Eq. 8), `gptq` = GPTQ against the calibration Hessian on its symmetric grid (damp 0.01, block 128, act-order; no zero points stored), `gptq_asym` = the FLRQ authors' GPTQ on the asymmetric min-max grid with an MSE range search (zero points stored). */
  quantizer?: "rtn" | "gptq" | "gptq_asym";
}

/** Settings of method `hqq`. */
export interface HqqSettings {
  /** Most zero-point updates (the run stops earlier when the mean absolute weight error stops falling). */
  iterations?: number;
  /** p of the lp error norm the shrinkage targets (p < 1 favours a sparse error; 1 = soft thresholding). */
  lp_norm?: number;
  /** Initial half-quadratic penalty β (the shrinkage threshold is `abs(x)^(p−1)/β`). */
  beta?: number;
  /** Factor by which β grows each iteration. */
  kappa?: number;
  /** Whether zero points stay integers (every format stores them) or take real values as in the authors' code (stored exactly by `fake`, and by `matmulnbits` for MatMul/Gemm layers at 2 or 4 bits as float zero points; other formats and bit widths write such layers fake-quant, with a note). */
  zero_point?: "integer" | "float";
}

/** Settings of method `adaround`. */
export interface AdaroundSettings {
  /** Adam steps (each costs one rows×cols×cols product). */
  iterations?: number;
  /** Weight λ of the rounding regularizer `Σ(1 − abs(2h − 1)^β)`. */
  lambda?: number;
  /** Regularizer exponent β after the warm-up (annealed linearly to `beta_end`). */
  beta_start?: number;
  /** Regularizer exponent β at the last step (must not exceed `beta_start`). */
  beta_end?: number;
  /** Fraction of the steps before the regularizer starts (reconstruction only). */
  warmup?: number;
  /** Adam learning rate on the rounding variables. */
  lr?: number;
  /** Where the grid (per-group scales and integer zero points) comes from; AdaRound then only chooses up or down on it. */
  base?: "rtn" | "gptq";
}

/** Settings of method `sparsegpt`. */
export interface SparsegptSettings {
  /** Hessian dampening as a fraction of mean(diag H) (`percdamp`). Retried ×10 if H is not positive definite. */
  damp?: number;
  /** Columns per block `B`: unstructured masks are chosen per block of columns (adaptive mask selection), so unlike GPTQ it changes the result. N:M needs a multiple of M. */
  block_size?: number;
}

/** Settings of method `wanda`. */
export interface WandaSettings {}

/** Settings of method `magnitude`. */
export interface MagnitudeSettings {
  /** Where the smallest weights are ranked (unstructured sparsity). */
  scope?: "layer" | "row";
}

/** Settings of method `jsq`. */
export interface JsqSettings {
  /** Weight ρ of the output-range term R_ij in the saliency (the authors' 2.1); 0 gives the Wanda ranking. */
  rho?: number;
  /** SmoothQuant migration strength α after pruning (the authors' 0.5). */
  alpha?: number;
  /** Quantize the layer inputs: static per-tensor symmetric fake quantization (QDQ) of the smoothed, clipped activations at this many bits (8 = W8A8, the JSQ setting). 0 keeps activations in floating point (the clip then only shapes the statistics). */
  activation_bits?: 0 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
  /** Which mask the pipeline uses. `jsq`: the saliency above (ρ = 0 is Wanda, so `rho: 0, clip_max: 0` is Wanda+SmoothQuant); `sparsegpt`: SparseGPT's OBS pruning with float survivors (damp 0.01, block 128) before the smoothing — SparseGPT+SmoothQuant, the paper's other baseline. */
  pruner?: "jsq" | "sparsegpt";
  /** Largest fraction of the sample's |x| the activation editor may clip: it searches 0 and the fractions 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05 up to this one (the authors' code fixes 0.01). 0 turns the editor off. */
  clip_max?: number;
}

/** Each method's settings as its kernel receives them: every key present (the schema's defaults filled in; engine/quantize/methodSettings.ts `settingsOf`). */
export interface ResolvedMethodSettings {
  rtn: Required<RtnSettings>;
  gptq: Required<GptqSettings>;
  awq: Required<AwqSettings>;
  smoothquant: Required<SmoothquantSettings>;
  osplus: Required<OsplusSettings>;
  billm: Required<BillmSettings>;
  pbllm: Required<PbllmSettings>;
  dualbin: Required<DualbinSettings>;
  flrq: Required<FlrqSettings>;
  lorc: Required<LorcSettings>;
  lqer: Required<LqerSettings>;
  hqq: Required<HqqSettings>;
  adaround: Required<AdaroundSettings>;
  sparsegpt: Required<SparsegptSettings>;
  wanda: Required<WandaSettings>;
  magnitude: Required<MagnitudeSettings>;
  jsq: Required<JsqSettings>;
}

/** `methods:`: per-method settings. */
export interface MethodSettings {
  rtn?: RtnSettings;
  gptq?: GptqSettings;
  awq?: AwqSettings;
  smoothquant?: SmoothquantSettings;
  osplus?: OsplusSettings;
  billm?: BillmSettings;
  pbllm?: PbllmSettings;
  dualbin?: DualbinSettings;
  flrq?: FlrqSettings;
  lorc?: LorcSettings;
  lqer?: LqerSettings;
  hqq?: HqqSettings;
  adaround?: AdaroundSettings;
  sparsegpt?: SparsegptSettings;
  wanda?: WandaSettings;
  magnitude?: MagnitudeSettings;
  jsq?: JsqSettings;
}

/** Any method's settings (a rule's `settings:` is checked against the method in effect). */
export type AnyMethodSettings = RtnSettings | GptqSettings | AwqSettings | SmoothquantSettings | OsplusSettings | BillmSettings | PbllmSettings | DualbinSettings | FlrqSettings | LorcSettings | LqerSettings | HqqSettings | AdaroundSettings | SparsegptSettings | WandaSettings | MagnitudeSettings | JsqSettings;

/** One `layers:` rule. */
export interface RecipeRule {
  /** Which layers this rule applies to: a glob over layer names (`*` any run of characters, `?` one, `[abc]`, `{a,b}`) or `re:<regex>` (a full match). Layer names are the weight tensors' names. */
  match: string;
  /** Quantization method. */
  method?: "rtn" | "gptq" | "awq" | "smoothquant" | "osplus" | "billm" | "pbllm" | "dualbin" | "flrq" | "lorc" | "lqer" | "hqq" | "adaround" | "sparsegpt" | "wanda" | "magnitude" | "jsq";
  /** Bits per weight (1–8). The format limits which are storable: matmulnbits 2/4/8, qdq 4/8, packed and fake any. */
  bits?: number;
  /** Pruning, with `sparsegpt`, `wanda` or `magnitude` (or after `smoothquant` / `awq` scaling, by their `sparsity_method`): a fraction of the weights in [0, 1) (unstructured), or `"2:4"` / `"4:8"` (N of every M consecutive input columns of each row are pruned; the input width must be a multiple of M). Pruned weights are stored as exact zeros: `packed` keeps a bitmap and only the surviving codes (the file shrinks); `matmulnbits`/`qdq` keep dense zeros (no size gain); `auto` stores sparse layers `packed`. */
  sparsity?: number | "2:4" | "4:8";
  /** Input columns per quantization group; `-1` = one group per output row. matmulnbits needs a power of 2 ≥ 16. */
  group_size?: number;
  /** Symmetric grid (no zero point) instead of asymmetric min-max. */
  symmetric?: boolean;
  /** Leave the matched layers in full precision. */
  skip?: boolean;
  /** How the matched layers are stored, overriding the top-level `format` for them. */
  format?: "auto" | "matmulnbits" | "qdq" | "packed" | "fake";
  /** Method settings for these layers (keys of `methods.<method>`), overriding `methods:`. */
  settings?: AnyMethodSettings;
}

/** A whole recipe document (`*.lowbit.yaml`). */
export interface RecipeDocument {
  /** Recipe format version (currently 1). */
  version?: 1;
  /** The ONNX model to compress, relative to the recipe file. */
  model: string;
  /** Where the compressed model is written (atomically; never the input). The report goes next to it as `<name>.report.json`. */
  output: string;
  /** How compressed weights are stored (a rule's `format` overrides it for its layers). */
  format?: "auto" | "matmulnbits" | "qdq" | "packed" | "fake";
  /** Random seed (calibration sampling, sketches). */
  seed?: number;
  /** Threads for the native kernels (0 = all cores). */
  threads?: number;
  /** The `accuracy_level` written on every `MatMulNBits` node (and the level onnxruntime uses when it fuses `qdq` weights into MatMulNBits): the type its activations are computed in. `4` (int8 activations, what onnxruntime-genai writes for CPU) is the fast CPU level; `0` leaves it unset (fp32 activations, exact). Evaluation runs the model at this level, so the reported quality and latency are what you get. */
  accuracy_level?: 0 | 1 | 2 | 3 | 4;
  /** QuaRot-style offline rotation (Ashkboos et al. 2024) applied before calibration: the RMSNorm scales are folded into the linears after them, then the residual stream is rotated by a seeded randomized Hadamard matrix R (embedding E·R, stream readers Rᵀ·W, stream writers W·R, the LM head too). The full-precision model computes the same outputs; outliers are spread over all channels, so every method then quantizes the rotated weights with less error. Needs a decoder whose residual stream starts at the token embedding (learned position tables may be added to it) and is read only by norms and linear layers (a diagnostic names the node that prevents it). Pre-LN LayerNorm models (GPT-2, OPT: `LayerNormalization`, `SkipLayerNormalization` or the decomposed form) are made rotatable first, as in QuaRot/SliceGPT: every stream writer is centred so the stream is mean-free, and each LayerNorm becomes an RMSNorm with its γ and β folded into the linears after it (β·W added to their biases). Post-LN models (BERT) cannot be rotated. A tied LM head is untied first: it gets its own copy of the embedding table (the report says how many bytes). */
  rotation?: {
    /** Which rotation. */
    method?: "none" | "hadamard";
    /** Seed of the random signs (and of the random orthogonal fallback). */
    seed?: number;
    /** QuaRot's online Hadamard: also rotate the inputs of stream writers at run time, with an inserted standard `MatMul` by a constant orthogonal matrix Q (the writer's weight becomes Qᵀ·W). Spreads the outliers of those activations for activation quantization (W4A8) and of those weights' input side; costs one k×k product per token and layer. */
    online?: "none" | "down" | "all";
  };
  /** How much memory the job may use. When the whole model does not fit, calibration and quantization stream block by block (one onnxruntime session per block, weights loaded in place, activations cached in RAM and beyond that on disk). */
  memory?: {
    /** Memory budget in MB (10⁶ bytes); unset = what the machine has free when the job starts. `lowbit run --memory` overrides it. */
    budget_mb?: number;
    /** Block streaming. */
    streaming?: "auto" | "always" | "never";
    /** Folder where cached activations beyond the RAM share go (a private subfolder, deleted afterwards); default: the system temp folder. */
    cache?: string;
  };
  /** Data the calibration statistics (Hessians, activation magnitudes) come from. Give one of `text` (with `tokenizer`), `tensors` or `images`; none = random token ids. */
  calibration?: {
    /** A UTF-8 text file, tokenized and cut into `samples` windows of `sequence_length` tokens. */
    text?: string;
    /** A Hugging Face `tokenizer.json` (required with `text`). */
    tokenizer?: string;
    /** An `.npz` archive or a folder of `.npy` files, one per model input. */
    tensors?: string;
    /** A folder of images (vision models), preprocessed by `image:`. */
    images?: string;
    /** Image preprocessing for `images:`. */
    image?: {
      /** Input height in pixels. */
      height?: number;
      /** Input width in pixels; `-1` keeps the aspect ratio (text-line models). */
      width?: number;
      /** Per-channel mean subtracted after scaling to [0, 1]. */
      mean?: number[];
      /** Per-channel standard deviation divided by. */
      std?: number[];
      /** Tensor layout. */
      layout?: "nchw" | "nhwc";
      /** Channel order. */
      channels?: "rgb" | "bgr";
    };
    /** Calibration samples (sequences or images). */
    samples?: number;
    /** Tokens per calibration sequence. */
    sequence_length?: number;
    /** Tokens skipped at the start of `text`. When unset and `text` is also the evaluation text, calibration windows are taken from the end of the file so the two never overlap; otherwise 0. */
    offset?: number;
    /** How layer inputs are collected. */
    mode?: "parallel" | "sequential";
  };
  /** Settings for every quantizable layer before the `layers:` rules apply. */
  defaults?: {
    /** Quantization method. */
    method?: "rtn" | "gptq" | "awq" | "smoothquant" | "osplus" | "billm" | "pbllm" | "dualbin" | "flrq" | "lorc" | "lqer" | "hqq" | "adaround" | "sparsegpt" | "wanda" | "magnitude" | "jsq";
    /** Bits per weight (1–8). The format limits which are storable: matmulnbits 2/4/8, qdq 4/8, packed and fake any. */
    bits?: number;
    /** Pruning, with `sparsegpt`, `wanda` or `magnitude` (or after `smoothquant` / `awq` scaling, by their `sparsity_method`): a fraction of the weights in [0, 1) (unstructured), or `"2:4"` / `"4:8"` (N of every M consecutive input columns of each row are pruned; the input width must be a multiple of M). Pruned weights are stored as exact zeros: `packed` keeps a bitmap and only the surviving codes (the file shrinks); `matmulnbits`/`qdq` keep dense zeros (no size gain); `auto` stores sparse layers `packed`. */
    sparsity?: number | "2:4" | "4:8";
    /** Input columns per quantization group; `-1` = one group per output row. matmulnbits needs a power of 2 ≥ 16. */
    group_size?: number;
    /** Symmetric grid (no zero point) instead of asymmetric min-max. */
    symmetric?: boolean;
    /** Method settings for these layers (keys of `methods.<method>`), overriding `methods:`. */
    settings?: AnyMethodSettings;
  };
  /** Ordered rules; later rules override earlier ones field by field. Each has a `match` and any of `method`, `bits`, `sparsity`, `group_size`, `symmetric`, `skip`, `format`, `settings`. */
  layers?: RecipeRule[];
  /** Per-method settings, e.g. `gptq: { damp: 0.01, block_size: 128 }`. Only the keys the method takes are allowed. */
  methods?: MethodSettings;
  /** How the model's graph inputs are fed from text windows, overriding the built-in rule table (`input_ids` ← tokens, `attention_mask` ← ones, `position_ids` ← 0..T−1, `past_key_values.*` ← an empty cache, GroupQueryAttention `seqlens_k` / `total_sequence_length`, `token_type_ids` ← zeros). Keys are the model's input names; a value is a rule name or a number (a constant: static dims as declared, symbolic axis 0 = batch, other symbolic axes = T). */
  inputs?: Record<string, "token_ids" | "attention_mask" | "positions" | "empty_past" | "seqlens_k" | "total_sequence_length" | "zeros" | "use_cache_branch" | number>;
  /** A size budget for `lowbit suggest` (and the editor's "Suggest rules for the budget"): per layer, the candidate (method × bits × group size) that minimizes the estimated loss so that the stored size fits, chosen by an exact knapsack. Give one of `bits_per_weight`, `bytes` or `ratio`. The suggestion is written as `layers:` rules; `lowbit run` ignores this section. */
  budget?: {
    /** Stored bits per weight over the quantized layers, as the file holds them (codes, scales, zero points, packed decode graphs). */
    bits_per_weight?: number;
    /** Size of the whole output `.onnx` in bytes (layers left in full precision and the rest of the graph included). */
    bytes?: number;
    /** Size of the output `.onnx` as a fraction of the full-precision file. */
    ratio?: number;
    /** Methods tried per layer (each must suit `format`). Default: gptq with calibration data, rtn without. */
    methods?: Array<"rtn" | "gptq" | "awq" | "smoothquant" | "osplus" | "billm" | "pbllm" | "dualbin" | "flrq" | "lorc" | "lqer" | "hqq" | "adaround" | "sparsegpt" | "wanda" | "magnitude" | "jsq">;
    /** Bit widths tried per layer (those `format` can store). Default: matmulnbits 2, 4, 8; qdq 4, 8; packed and fake 1, 2, 3, 4, 8 (packed layers pay for their decode graph, so 1 bit is what fits tight budgets). */
    bits?: number[];
    /** Group sizes tried per layer (`-1` = per row; matmulnbits needs powers of 2 ≥ 16). Default: 32, 128. */
    group_sizes?: number[];
    /** Per-layer loss estimate the knapsack minimizes (summed over layers). */
    estimate?: "kl" | "proxy";
    /** Calibration-text windows the `kl` estimate runs on (taken from the calibration range, never the evaluation text). */
    samples?: number;
  };
  /** Held-out evaluation of full precision vs compressed. Omit to skip evaluation (size metrics only). */
  evaluate?: {
    /** A UTF-8 text file of held-out text. */
    text?: string;
    /** Tokenizer for `text` (default: `calibration.tokenizer`). */
    tokenizer?: string;
    /** An `.npz` archive or a folder of `.npy` inputs. */
    tensors?: string;
    /** A folder of evaluation images. */
    images?: string;
    /** Labels for `images` (accuracy / CER). */
    labels?: string;
    /** Image preprocessing (default: `calibration.image`). */
    image?: {
      /** Input height in pixels. */
      height?: number;
      /** Input width in pixels; `-1` keeps the aspect ratio (text-line models). */
      width?: number;
      /** Per-channel mean subtracted after scaling to [0, 1]. */
      mean?: number[];
      /** Per-channel standard deviation divided by. */
      std?: number[];
      /** Tensor layout. */
      layout?: "nchw" | "nhwc";
      /** Channel order. */
      channels?: "rgb" | "bgr";
    };
    /** Evaluation samples. */
    samples?: number;
    /** Tokens per evaluation sequence. */
    sequence_length?: number;
    /** Tokens skipped at the start of `text`. */
    offset?: number;
    /** Metrics to compute. `latency` on a language model times a batch-1 prefill and per-token decode (through the KV cache when the model has one) for both models. */
    metrics?: Array<"perplexity" | "kl_divergence" | "top1_agreement" | "size" | "latency" | "output_agreement" | "accuracy" | "cer">;
    /** Greedy generation with the FP and the compressed model from `prompt` (through the KV cache when the model has one; needs `text` and a tokenizer). The report shows both texts and the first position where they diverge. */
    generate?: {
      /** The prompt text, encoded with the tokenizer's template (Llama: a BOS first). */
      prompt: string;
      /** New tokens generated by each model. */
      tokens?: number;
    };
  };
}
