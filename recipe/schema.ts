/**
 * The recipe schema: the single source of truth for the `*.lowbit.yaml` format.
 * Keys, types, enums, defaults, ranges and markdown docs live here; the parser's checks, completion,
 * hover, `lowbit check`, the plan resolver and docs/recipe.md (scripts/gen-recipe-docs) all read it.
 */
import { METHODS, EXPORT_FORMATS, INPUT_RULES, DEFAULT_ACCURACY_LEVEL, NM_PATTERNS } from '../protocol/plan';
import type { Method, ExportFormat, Metric } from '../protocol/plan';

/** One value's schema. `doc` is markdown shown on hover and in docs/recipe.md. */
export type FieldSchema =
  | { kind: 'string'; doc: string; default?: string; path?: boolean; required?: boolean; examples?: string[] }
  | { kind: 'number'; doc: string; default?: number; integer?: boolean; min?: number; max?: number; allowed?: number[]; required?: boolean }
  | { kind: 'boolean'; doc: string; default?: boolean; required?: boolean }
  | { kind: 'enum'; doc: string; values: readonly string[]; valueDocs?: Record<string, string>; default?: string; required?: boolean }
  | { kind: 'object'; doc: string; fields: Record<string, FieldSchema>; required?: boolean }
  | { kind: 'enumList'; doc: string; values: readonly string[]; default?: string[]; required?: boolean }
  | { kind: 'numberList'; doc: string; default?: number[]; required?: boolean }
  /** A fraction in [min, max) or one of the `patterns` ("N:M"): a layer's sparsity. */
  | { kind: 'sparsity'; doc: string; default?: number; min: number; max: number; patterns: readonly string[]; required?: boolean }
  /** A map whose keys are method names and whose values are that method's settings. */
  | { kind: 'methodSettings'; doc: string; required?: boolean }
  /** The ordered `layers:` rules. */
  | { kind: 'rules'; doc: string; item: Record<string, FieldSchema>; required?: boolean }
  /** A settings map validated against the method in effect (rules' and defaults' `settings:`). */
  | { kind: 'settings'; doc: string; required?: boolean }
  /** A mapping from the model's graph input names to an input-binding rule or a constant number. */
  | { kind: 'inputs'; doc: string; values: readonly string[]; valueDocs: Record<string, string>; required?: boolean };

/** The current recipe format version. */
export const RECIPE_VERSION = 1;

/** Bit widths each export format can store. */
export const FORMAT_BITS: Record<ExportFormat, readonly number[]> = {
  auto: [1, 2, 3, 4, 5, 6, 7, 8],
  matmulnbits: [2, 4, 8],
  qdq: [4, 8],
  packed: [1, 2, 3, 4, 5, 6, 7, 8],
  fake: [1, 2, 3, 4, 5, 6, 7, 8],
};

/** Markdown docs for each export format. */
export const FORMAT_DOCS: Record<ExportFormat, string> = {
  auto: "Per layer, the most compact form onnxruntime runs: MatMul → `matmulnbits` (2/4/8 bit; else `packed`); Conv, ConvTranspose and Gemm → `qdq` (4/8 bit, blocked when the model's opset is ≥ 21; below 21, Conv and Gemm are per-channel int8: their bits become 8 and their group size -1; ConvTranspose has no per-output-channel weight axis, so the opset is raised to 21 for it); bits DequantizeLinear cannot store → `packed` (ConvTranspose: `fake`); binarized methods → `packed`.",
  matmulnbits:
    '`com.microsoft.MatMulNBits` (2/4/8 bit; 8-bit needs onnxruntime ≥ 1.23, 2-bit ≥ 1.24). Group size must be a power of 2, at least 16.',
  qdq: '`DequantizeLinear` in front of MatMul/Gemm/Conv/ConvTranspose (4 or 8 bit): per output channel (group size -1; int8 needs opset 13, int4 opset 21) or blocked along the input (opset 21; a blocked Conv weight is dequantized as a matrix and reshaped). The opset is raised as far as needed.',
  packed:
    'Bit-packed codes (any method, 1–8 bit, binarized included) + fp16/fp32 per-row/per-group parameters, decoded by a standard-op subgraph (opset ≥ 11) that onnxruntime constant-folds at load: small on disk, float weights in memory. Binarized layers are stored this way under `matmulnbits`/`qdq` too.',
  fake: 'Dequantized float weights in a plain MatMul: any bit width, any method; measures accuracy, not size.',
};

/**
 * A method setting that, by construction, does not change the compressed weights (a speed or memory
 * knob): `inert` says why. The settings test (test/unit/engine/quantize/methodSettings.test.ts) checks
 * that every other method setting changes its kernel's result, and that an inert one does not.
 */
export type MethodSettingSchema = FieldSchema & { inert?: string };

/** What the schema knows about one quantization method. */
export interface MethodInfo {
  /** One-paragraph markdown description with the paper reference. */
  doc: string;
  /** The method's own settings (the keys under `methods.<name>:` and a rule's `settings:`). */
  settings: Record<string, MethodSettingSchema>;
  /** Formats that can store the method's output exactly. */
  formats: readonly ExportFormat[];
  /** When set, the method always uses this bit width (binarization) and `bits` is ignored. */
  fixedBits?: number;
  /** Whether the method needs calibration data (activations / Hessians). */
  needsCalibration: boolean;
  /** Whether the method prunes (takes a rule's `sparsity`). */
  prunes?: boolean;
  /**
   * Whether the method also takes a rule's `sparsity`, pruning after its own scaling (SmoothQuant, AWQ:
   * the setting `sparsity_method` picks Wanda or SparseGPT on the scaled weights and activations).
   */
  prunesAfterScaling?: boolean;
}

const sparsityMethod: MethodSettingSchema = {
  kind: 'enum',
  doc: "With a rule's `sparsity`: how the scaled layer is pruned after the scales are chosen — `wanda` (|W̃|·‖X̃_j‖₂ per output row, then RTN of the survivors) or `sparsegpt` (the OBS solve with the mask, joint with quantization; `damp` and `block_size` are SparseGPT's defaults). Unused without `sparsity`.",
  values: ['wanda', 'sparsegpt'],
  default: 'wanda',
  valueDocs: {
    wanda: 'Wanda on the smoothed weights and activations (Wanda+SmoothQuant / Wanda+AWQ).',
    sparsegpt: 'SparseGPT on the smoothed weights and Hessian (SparseGPT+SmoothQuant / SparseGPT+AWQ).',
  },
};

const damp: FieldSchema = {
  kind: 'number',
  doc: 'Hessian dampening as a fraction of mean(diag H) (`percdamp`). Retried ×10 if H is not positive definite.',
  default: 0.01,
  min: 0,
  max: 1,
};
const allFormats = EXPORT_FORMATS;
/** The low-rank methods' `quantizer` setting; `what` names what it quantizes. */
const residualQuantizer = (what: string, dflt: 'rtn' | 'gptq_asym' = 'rtn'): FieldSchema => ({
  kind: 'enum',
  doc: `How ${what} is quantized: \`rtn\` = symmetric absmax round-to-nearest (FLRQ Eq. 8), \`gptq\` = GPTQ against the calibration Hessian on its symmetric grid (damp 0.01, block 128, act-order; no zero points stored), \`gptq_asym\` = the FLRQ authors' GPTQ on the asymmetric min-max grid with an MSE range search (zero points stored).`,
  values: ['rtn', 'gptq', 'gptq_asym'],
  default: dflt,
  valueDocs: {
    rtn: 'Symmetric absmax round-to-nearest per group (FLRQ Eq. 8; with FLRQ a per-group clip search).',
    gptq: 'GPTQ against the calibration Hessian on its symmetric grid (damp 0.01, block 128, act-order with static groups): minimizes the layer output error given the low-rank part. An extension, not in the papers.',
    gptq_asym:
      "GPTQ against the calibration Hessian on the asymmetric min-max grid with the MSE range search (norm 2.4, shrink ≤ 90%), act-order off, damp 0.01, block 128: the base quantizer of the FLRQ authors' code (Sketch_lopro gptq_utils_lora). Stores a zero point per group.",
  },
});

/** Every method in protocol/plan.ts METHODS, with its settings and paper reference. */
export const METHOD_INFO: Record<Method, MethodInfo> = {
  rtn: {
    doc: '**RTN** — round-to-nearest on a min-max grid per group (per row with `group_size: -1`). No calibration needed.',
    settings: {
      mse_clip: {
        kind: 'boolean',
        doc: "Shrink each group's range to the clip ratio that minimizes the rounding error (GPTQ `quant.py` MSE search: norm 2.4, the range shrunk in 1% steps by up to 80%).",
        default: false,
      },
    },
    formats: allFormats,
    needsCalibration: false,
  },
  gptq: {
    doc: '**GPTQ** — Frantar et al., *GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers* (ICLR 2023, arXiv 2210.17323). Column-by-column quantization with Cholesky-inverse error feedback under the calibration Hessian.',
    settings: {
      damp,
      block_size: {
        kind: 'number',
        doc: 'Columns per lazy-batch block `B`.',
        default: 128,
        integer: true,
        min: 1,
        max: 65536,
        inert:
          "GPTQ's lazy batch updates are an exact reordering of the column updates: the block size changes speed, and the weights only by float rounding.",
      },
      act_order: {
        kind: 'boolean',
        doc: 'Quantize columns in order of decreasing `diag H` (with groups, exported as static groups).',
        default: false,
      },
      static_groups: { kind: 'boolean', doc: "Compute every group's grid up front from the unmodified weights.", default: false },
      asymmetric: {
        kind: 'boolean',
        doc: '**GPTAQ** — Li et al., *GPTAQ: Efficient Finetuning-Free Quantization for Asymmetric Calibration* (ICML 2025, arXiv 2504.02692). Match the quantized layer on the quantized-prefix inputs X̃ to the float layer on the float inputs X (minimize ‖WX − QX̃‖²): the cross term (X − X̃)X̃ᵀ enters every column update. Needs `calibration.mode: sequential` (with parallel calibration X̃ = X and it is plain GPTQ); not for Conv layers yet.',
        default: false,
      },
      asymmetric_alpha: {
        kind: 'number',
        doc: "GPTAQ's weight α of the asymmetric term (the authors' 0.25); only read with `asymmetric: true`. 0 gives GPTQ on the quantized-prefix inputs.",
        default: 0.25,
        min: 0,
        max: 1,
      },
    },
    formats: allFormats,
    needsCalibration: true,
  },
  awq: {
    doc: '**AWQ** — Lin et al., *AWQ: Activation-aware Weight Quantization for LLM Compression and Acceleration* (MLSys 2024, arXiv 2306.00978). Per-channel scales `s = x̄^α` searched on a grid, then an optional clip search.',
    settings: {
      n_grid: { kind: 'number', doc: 'Number of α values tried in [0, 1).', default: 20, integer: true, min: 1, max: 1000 },
      clip: {
        kind: 'boolean',
        doc: 'Search a per-group clipping threshold after scaling (skipped for q/k projections, and for pruned layers).',
        default: true,
      },
      sparsity_method: sparsityMethod,
    },
    formats: allFormats,
    needsCalibration: true,
    prunesAfterScaling: true,
  },
  smoothquant: {
    doc: '**SmoothQuant** — Xiao et al., *SmoothQuant: Accurate and Efficient Post-Training Quantization for LLMs* (ICML 2023, arXiv 2211.10438). Migrates activation outliers into the weights with `s_j = max|X_j|^α / max|W_j|^(1−α)`.',
    settings: {
      alpha: { kind: 'number', doc: 'Migration strength α (0.5 default; 0.8–0.9 for Llama-2 / Mistral).', default: 0.5, min: 0, max: 1 },
      activation_bits: {
        kind: 'number',
        doc: 'Also quantize the layer inputs: static per-tensor symmetric fake quantization (QDQ) of the smoothed activations at this many bits (8 = W8A8; 4 and 6 are simulated on int8). 0 (the default) keeps activations in floating point: weight-only.',
        default: 0,
        integer: true,
        min: 0,
        max: 8,
        allowed: [0, 2, 3, 4, 5, 6, 7, 8],
      },
      sparsity_method: sparsityMethod,
    },
    formats: allFormats,
    needsCalibration: true,
    prunesAfterScaling: true,
  },
  osplus: {
    doc: '**OS+** — Wei et al., *Outlier Suppression+: Accurate quantization of LLMs by equivalent and optimal shifting and scaling* (EMNLP 2023, arXiv 2304.09145). Channel-wise shift and a searched scaling threshold.',
    settings: {
      shift: { kind: 'boolean', doc: 'Also shift activations by the channel midpoint (folded into biases).', default: false },
      steps: { kind: 'number', doc: 'Minimum number of thresholds searched.', default: 100, integer: true, min: 1, max: 100000 },
      activation_bits: {
        kind: 'number',
        doc: 'Also quantize the layer inputs: static per-tensor symmetric fake quantization (QDQ) of the smoothed activations at this many bits (8 = W8A8; 4 and 6 are simulated on int8). 0 (the default) keeps activations in floating point: weight-only.',
        default: 0,
        integer: true,
        min: 0,
        max: 8,
        allowed: [0, 2, 3, 4, 5, 6, 7, 8],
      },
    },
    formats: allFormats,
    needsCalibration: true,
  },
  billm: {
    doc: '**BiLLM** — Huang et al., *BiLLM: Pushing the Limit of Post-Training Quantization for LLMs* (ICML 2024, arXiv 2402.04291). Salient columns get residual (order-2) binarization, the rest a split binarization; ≈1.1 claimed bits. Stored `packed` (2 bits a weight + salient-column mask + 8 fp16 scales per row-block) or fake-quant.',
    settings: {
      damp,
      block_size: { kind: 'number', doc: 'Columns per block (= group).', default: 128, integer: true, min: 1, max: 65536 },
      salient_metric: { kind: 'enum', doc: 'How column saliency is scored.', values: ['hessian', 'magnitude'], default: 'hessian' },
      max_salient: {
        kind: 'number',
        doc: 'Largest number of salient columns searched per block (`up_lim`).',
        default: 50,
        integer: true,
        min: 0,
        max: 65536,
      },
    },
    formats: ['packed', 'fake'],
    fixedBits: 1,
    needsCalibration: true,
  },
  pbllm: {
    doc: '**PB-LLM** — Shang et al., *PB-LLM: Partially Binarized Large Language Models* (ICLR 2024, arXiv 2310.00034). A `low_frac` share of weights is binarized, the salient rest kept at `high_bits`, inside a GPTQ loop. Stored `packed` (mask bit + sign or 8-bit code per weight + per-row parameters) or fake-quant.',
    settings: {
      damp,
      low_frac: {
        kind: 'number',
        doc: 'Fraction of weights binarized (bits ≈ low_frac + high_bits·(1−low_frac)).',
        default: 0.9,
        min: 0,
        max: 1,
      },
      high_bits: { kind: 'number', doc: 'Bits of the salient weights.', default: 8, integer: true, min: 2, max: 8 },
      saliency: { kind: 'enum', doc: 'Saliency score used for the mask.', values: ['hessian', 'magnitude'], default: 'hessian' },
    },
    formats: ['packed', 'fake'],
    fixedBits: 1,
    needsCalibration: true,
  },
  dualbin: {
    doc: "**Dual binarization** — after DB-LLM (Chen et al., arXiv 2402.11960): `ŵ = α₁b₁ + α₂b₂`, fitted post-training from a 2-bit start (the paper's distillation is out of scope). Stored `packed` (2 bits a weight + (α₁, α₂) per row-group) or fake-quant.",
    settings: {
      iterations: {
        kind: 'number',
        doc: 'Alternating refits of the binary codes and the per-group (α₁, α₂).',
        default: 10,
        integer: true,
        min: 0,
        max: 1000,
      },
      init: {
        kind: 'enum',
        doc: 'The 2-bit starting point of the refit. With `iterations: 0` the result is that starting point.',
        values: ['rtn', 'gptq'],
        default: 'rtn',
        valueDocs: {
          rtn: "The per-group grid {−s, 0, s, 2s} spanning the group's range (mirrored when the negative side is larger).",
          gptq: '2-bit asymmetric GPTQ codes under the calibration Hessian (damp 0.01, block 128), rewritten exactly as α₁b₁ + α₂b₂.',
        },
      },
    },
    formats: ['packed', 'fake'],
    fixedBits: 2,
    needsCalibration: false,
  },
  flrq: {
    doc: '**FLRQ** — *Flexible Low-Rank Quantization* (AAAI 2026, arXiv 2601.05684): R1-Sketch rank selection per layer plus best low-rank compensation (BLC) against the calibration Hessian.',
    settings: {
      max_extra_storage: {
        kind: 'number',
        doc: 'Largest low-rank storage overhead as a fraction of the layer (`x`).',
        default: 0.2,
        min: 0,
        max: 4,
      },
      blc_epochs: {
        kind: 'number',
        doc: "BLC epochs: refits of the low rank to `W − W_q` and requantizations, keeping the best by `tr(ΔHΔᵀ)` (the paper: ~1 at 3–4 bits, ~20 at 2 bits; the authors' default GPTQ path: 0).",
        default: 0,
        integer: true,
        min: 0,
        max: 1000,
      },
      sketch_iterations: {
        kind: 'number',
        doc: "Power iterations of R1-Sketch (the authors' code: 8; the spec: 2).",
        default: 8,
        integer: true,
        min: 0,
        max: 100,
      },
      slope_threshold: {
        kind: 'number',
        doc: "Stop adding ranks when the amax curve's relative slope is below this (`rank_rule: spec` only).",
        default: 0.001,
        min: 0,
        max: 1,
      },
      activation_scaling: { kind: 'boolean', doc: 'Scale columns by activation magnitude before rank selection.', default: true },
      activation_exponent: {
        kind: 'number',
        doc: "Exponent e of the activation scaling `s = mean|x|^e / sqrt(max·min)` (the authors' code: 2.4; the spec: 2.5).",
        default: 2.4,
        min: 0,
        max: 8,
      },
      rank_rule: {
        kind: 'enum',
        doc: 'How R1-FLR picks the rank.',
        values: ['authors', 'spec'],
        default: 'authors',
        valueDocs: {
          authors:
            "The FLRQ authors' rule (r1_sketch.py): factors rounded to fp8 e5m2, cost 12 bits per factor entry in `k`, stop when a 16-rank window lowers amax by under 10% (back off 8 ranks), `k ≥ q` only after `sketch_iterations` ranks; rank 0 when the kept ranks lower amax by under 10%.",
          spec: 'The rule of the method brief: fp64 factors, 16 bits per factor entry in `k`, stop on `k > q`, `k > 1 + x` or the amax slope over the last 4 ranks below `slope_threshold`.',
        },
      },
      quantizer: residualQuantizer('the residual `W − W_r` (at initialization and in every BLC epoch)', 'gptq_asym'),
    },
    formats: allFormats,
    needsCalibration: true,
  },
  lorc: {
    doc: '**LoRC** — Yao et al., *ZeroQuant-V2* (arXiv 2303.08302): SVD of the quantization error, rank-r INT8 factors.',
    settings: {
      rank: { kind: 'number', doc: 'Rank r of the error correction.', default: 8, integer: true, min: 0, max: 65536 },
      factor_bits: { kind: 'number', doc: 'Bits of the low-rank factors.', default: 8, allowed: [8, 16, 32] },
      quantizer: residualQuantizer('the weight (before the SVD of its quantization error)'),
    },
    formats: allFormats,
    needsCalibration: false,
  },
  lqer: {
    doc: '**LQER / L²QER** — Zhang et al., *LQER: Low-Rank Quantization Error Reconstruction for LLMs* (ICML 2024, arXiv 2402.02446): activation-scaled SVD of the error.',
    settings: {
      rank: { kind: 'number', doc: 'Rank k of the error reconstruction.', default: 8, integer: true, min: 0, max: 65536 },
      factor_bits: { kind: 'number', doc: 'Bits of the low-rank factors.', default: 8, allowed: [8, 16, 32] },
      activation_scaled: { kind: 'boolean', doc: "Use L²QER's `S = diag(mean|x|)` (false = plain SVD).", default: true },
      quantizer: residualQuantizer('the weight (before the SVD of its quantization error)'),
    },
    formats: allFormats,
    needsCalibration: true,
  },
  hqq: {
    doc: "**HQQ** — Badri & Shaji, *Half-Quadratic Quantization of Large Machine Learning Models* (2023, mobiusml/hqq). Data-free: each group's min-max scale is kept, and its zero point is optimized by half-quadratic splitting — the error is shrunk toward a sparse lp (p < 1) residual and the zero point updated in closed form, β growing by κ, until the error stops falling. The fallback for layers whose inputs calibration cannot observe.",
    settings: {
      iterations: {
        kind: 'number',
        doc: 'Most zero-point updates (the run stops earlier when the mean absolute weight error stops falling).',
        default: 20,
        integer: true,
        min: 0,
        max: 10000,
      },
      lp_norm: {
        kind: 'number',
        doc: 'p of the lp error norm the shrinkage targets (p < 1 favours a sparse error; 1 = soft thresholding).',
        default: 0.7,
        min: 0.05,
        max: 1,
      },
      beta: {
        kind: 'number',
        doc: 'Initial half-quadratic penalty β (the shrinkage threshold is `abs(x)^(p−1)/β`).',
        default: 10,
        min: 0.001,
        max: 1000000,
      },
      kappa: { kind: 'number', doc: 'Factor by which β grows each iteration.', default: 1.01, min: 1, max: 10 },
      zero_point: {
        kind: 'enum',
        doc: "Whether zero points stay integers (every format stores them) or take real values as in the authors' code (stored exactly by `fake`, and by `matmulnbits` for MatMul/Gemm layers at 2 or 4 bits as float zero points; other formats and bit widths write such layers fake-quant, with a note).",
        values: ['integer', 'float'],
        default: 'float',
        valueDocs: {
          integer:
            "Starts from RTN's grid; per group the best of that start and the optimized zero point rounded down or up: never worse than RTN (on stories260K it equals RTN: the gain is in the fractional zero points).",
          float:
            "The authors' real-valued zero points (best error; stored exactly by `fake`, and by `matmulnbits` at 2 or 4 bits as 32-bit float zero points per group).",
        },
      },
    },
    formats: allFormats,
    needsCalibration: false,
  },
  adaround: {
    doc: '**AdaRound** (layer-wise) — Nagel et al., *Up or Down? Adaptive Rounding for Post-Training Quantization* (ICML 2020, arXiv 2004.10568). Learns, for each weight, whether to round up or down on a fixed grid: Adam on soft rounding variables against ½·tr(ΔHΔᵀ) plus an annealed regularizer that drives them to 0 or 1 (BRECQ/QDrop defaults), with hand-derived gradients in native code.',
    settings: {
      iterations: {
        kind: 'number',
        doc: 'Adam steps (each costs one rows×cols×cols product).',
        default: 1000,
        integer: true,
        min: 0,
        max: 1000000,
      },
      lambda: { kind: 'number', doc: 'Weight λ of the rounding regularizer `Σ(1 − abs(2h − 1)^β)`.', default: 0.01, min: 0, max: 1000 },
      beta_start: {
        kind: 'number',
        doc: 'Regularizer exponent β after the warm-up (annealed linearly to `beta_end`).',
        default: 20,
        min: 1,
        max: 1000,
      },
      beta_end: {
        kind: 'number',
        doc: 'Regularizer exponent β at the last step (must not exceed `beta_start`).',
        default: 2,
        min: 1,
        max: 1000,
      },
      warmup: {
        kind: 'number',
        doc: 'Fraction of the steps before the regularizer starts (reconstruction only).',
        default: 0.2,
        min: 0,
        max: 1,
      },
      lr: { kind: 'number', doc: 'Adam learning rate on the rounding variables.', default: 0.01, min: 0, max: 10 },
      base: {
        kind: 'enum',
        doc: 'Where the grid (per-group scales and integer zero points) comes from; AdaRound then only chooses up or down on it.',
        values: ['rtn', 'gptq'],
        default: 'rtn',
        valueDocs: {
          rtn: "RTN's min-max grid (the layer's `symmetric` and group size).",
          gptq: 'The grid GPTQ chose while solving under the calibration Hessian (damp 0.01, block 128); AdaRound re-rounds the original weights on it.',
        },
      },
    },
    formats: allFormats,
    needsCalibration: true,
  },
  sparsegpt: {
    doc: "**SparseGPT** — Frantar & Alistarh, *SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot* (ICML 2023, arXiv 2301.00774). Prunes to the rule's `sparsity` (a fraction, `2:4` or `4:8`) with the OBS update under the calibration Hessian — the GPTQ solve with a mask chosen per block of columns by w²/[H⁻¹]²_jj — and quantizes the survivors to `bits` in the same pass (joint mode: one error feedback). Sparsity 0 is GPTQ.",
    settings: {
      damp,
      block_size: {
        kind: 'number',
        doc: 'Columns per block `B`: unstructured masks are chosen per block of columns (adaptive mask selection), so unlike GPTQ it changes the result. N:M needs a multiple of M.',
        default: 128,
        integer: true,
        min: 1,
        max: 65536,
      },
    },
    formats: allFormats,
    needsCalibration: true,
    prunes: true,
  },
  wanda: {
    doc: '**Wanda** — Sun et al., *A Simple and Effective Pruning Approach for Large Language Models* (ICLR 2024, arXiv 2306.11695). Prunes the weights with the smallest |W_ij|·‖X_j‖₂ per output row (N:M: per row within each M input columns), no weight update; the survivors are quantized with RTN to `bits`. Sparsity 0 is RTN.',
    settings: {},
    formats: allFormats,
    needsCalibration: true,
    prunes: true,
  },
  magnitude: {
    doc: "**Magnitude pruning** — the baseline of the SparseGPT and Wanda papers: prunes the smallest |W_ij| (ranked over the whole layer, as the Wanda repository's `magnitude` baseline; N:M per row within each M input columns), no weight update; the survivors are quantized with RTN to `bits`. No calibration needed. Sparsity 0 is RTN.",
    settings: {
      scope: {
        kind: 'enum',
        doc: 'Where the smallest weights are ranked (unstructured sparsity).',
        values: ['layer', 'row'],
        default: 'layer',
        valueDocs: {
          layer: 'One ranking over the whole layer (the Wanda repository baseline).',
          row: 'Each output row keeps its own share.',
        },
      },
    },
    formats: allFormats,
    needsCalibration: false,
    prunes: true,
  },
  jsq: {
    doc: "**JSQ** — Guo et al., *Compressing Large Language Models by Joint Sparsification and Quantization* (ICML 2024). Prunes to the rule's `sparsity` by the saliency |W_ij|·‖X_j‖₂ + ρ·R_ij per output row, where R_ij is the range (max − min over the token positions of the mean calibration window) of output channel i with input column j removed — weights whose removal leaves a wide output range, which activation quantization handles badly, are kept. Then the activation editor clips input outliers: a search over clip fractions up to `clip_max` (the top fraction of |x| in a token sample clipped) keeps the threshold with the least output error of the pruned, smoothed, quantized layer. Then SmoothQuant (α) with the clipped activation maxima and the pruned weights, RTN of the survivors to `bits`, and static per-tensor activation QDQ at `activation_bits` over the clipped range. With sparsity 0 and `clip_max: 0` it is SmoothQuant.",
    settings: {
      rho: {
        kind: 'number',
        doc: "Weight ρ of the output-range term R_ij in the saliency (the authors' 2.1); 0 gives the Wanda ranking.",
        default: 2.1,
        min: 0,
        max: 1000,
      },
      alpha: { kind: 'number', doc: "SmoothQuant migration strength α after pruning (the authors' 0.5).", default: 0.5, min: 0, max: 1 },
      activation_bits: {
        kind: 'number',
        doc: 'Quantize the layer inputs: static per-tensor symmetric fake quantization (QDQ) of the smoothed, clipped activations at this many bits (8 = W8A8, the JSQ setting). 0 keeps activations in floating point (the clip then only shapes the statistics).',
        default: 8,
        integer: true,
        min: 0,
        max: 8,
        allowed: [0, 2, 3, 4, 5, 6, 7, 8],
      },
      pruner: {
        kind: 'enum',
        doc: "Which mask the pipeline uses. `jsq`: the saliency above (ρ = 0 is Wanda, so `rho: 0, clip_max: 0` is Wanda+SmoothQuant); `sparsegpt`: SparseGPT's OBS pruning with float survivors (damp 0.01, block 128) before the smoothing — SparseGPT+SmoothQuant, the paper's other baseline.",
        values: ['jsq', 'sparsegpt'],
        default: 'jsq',
        valueDocs: {
          jsq: 'JSQ saliency |W|·‖X‖ + ρ·R, no weight update.',
          sparsegpt: 'SparseGPT (OBS update of the survivors under the calibration Hessian), then SmoothQuant and RTN.',
        },
      },
      clip_max: {
        kind: 'number',
        doc: "Largest fraction of the sample's |x| the activation editor may clip: it searches 0 and the fractions 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05 up to this one (the authors' code fixes 0.01). 0 turns the editor off.",
        default: 0.05,
        min: 0,
        max: 0.05,
      },
    },
    formats: allFormats,
    needsCalibration: true,
    prunes: true,
  },
};

const METRICS: readonly Metric[] = [
  'perplexity',
  'kl_divergence',
  'top1_agreement',
  'size',
  'latency',
  'output_agreement',
  'accuracy',
  'cer',
];

const methodField: FieldSchema = {
  kind: 'enum',
  doc: 'Quantization method.',
  values: METHODS,
  default: 'rtn',
  valueDocs: Object.fromEntries(METHODS.map((m) => [m, METHOD_INFO[m].doc])),
};
const bitsField: FieldSchema = {
  kind: 'number',
  doc: 'Bits per weight (1–8). The format limits which are storable: matmulnbits 2/4/8, qdq 4/8, packed and fake any.',
  default: 4,
  integer: true,
  min: 1,
  max: 8,
};
const groupField: FieldSchema = {
  kind: 'number',
  doc: 'Input columns per quantization group; `-1` = one group per output row. matmulnbits needs a power of 2 ≥ 16.',
  default: 32,
  integer: true,
  min: -1,
  max: 1048576,
};
const sparsityField: FieldSchema = {
  kind: 'sparsity',
  doc: 'Pruning, with `sparsegpt`, `wanda` or `magnitude` (or after `smoothquant` / `awq` scaling, by their `sparsity_method`): a fraction of the weights in [0, 1) (unstructured), or `"2:4"` / `"4:8"` (N of every M consecutive input columns of each row are pruned; the input width must be a multiple of M). Pruned weights are stored as exact zeros: `packed` keeps a bitmap and only the surviving codes (the file shrinks); `matmulnbits`/`qdq` keep dense zeros (no size gain); `auto` stores sparse layers `packed`.',
  default: 0,
  min: 0,
  max: 1,
  patterns: NM_PATTERNS,
};
const symField: FieldSchema = { kind: 'boolean', doc: 'Symmetric grid (no zero point) instead of asymmetric min-max.', default: false };
const settingsField: FieldSchema = {
  kind: 'settings',
  doc: 'Method settings for these layers (keys of `methods.<method>`), overriding `methods:`.',
};

const imageFields: Record<string, FieldSchema> = {
  height: { kind: 'number', doc: 'Input height in pixels.', integer: true, min: 1, max: 16384, default: 48 },
  width: {
    kind: 'number',
    doc: 'Input width in pixels; `-1` keeps the aspect ratio (text-line models).',
    integer: true,
    min: -1,
    max: 16384,
    default: -1,
  },
  mean: { kind: 'numberList', doc: 'Per-channel mean subtracted after scaling to [0, 1].', default: [0.5, 0.5, 0.5] },
  std: { kind: 'numberList', doc: 'Per-channel standard deviation divided by.', default: [0.5, 0.5, 0.5] },
  layout: { kind: 'enum', doc: 'Tensor layout.', values: ['nchw', 'nhwc'], default: 'nchw' },
  channels: { kind: 'enum', doc: 'Channel order.', values: ['rgb', 'bgr'], default: 'rgb' },
};

/** What each input-binding rule feeds (the table in recipe/inputBinding.ts). */
export const INPUT_RULE_DOCS: Record<(typeof INPUT_RULES)[number], string> = {
  token_ids: 'The token ids of each window, [batch, T].',
  attention_mask: 'All ones, [batch, past + T] (past = 0).',
  positions: 'Positions 0..T−1 per row, [batch, T].',
  empty_past: "An empty KV cache: zeros with the past-length axis 0, in the cache's own dtype.",
  seqlens_k: 'GroupQueryAttention `seqlens_k`: T − 1 per row, int32 [batch].',
  total_sequence_length: 'GroupQueryAttention `total_sequence_length`: T, int32.',
  zeros: 'Zeros, [batch, T] (e.g. `token_type_ids`).',
  use_cache_branch: 'false (optimum merged decoders run without a past).',
};

/** The rule keys under `layers:`. */
export const RULE_FIELDS: Record<string, FieldSchema> = {
  match: {
    kind: 'string',
    required: true,
    doc: "Which layers this rule applies to: a glob over layer names (`*` any run of characters, `?` one, `[abc]`, `{a,b}`) or `re:<regex>` (a full match). Layer names are the weight tensors' names.",
    examples: ['layers.*.w2', 'output', 're:layers\\.[0-3]\\.w[123]'],
  },
  method: methodField,
  bits: bitsField,
  sparsity: sparsityField,
  group_size: groupField,
  symmetric: symField,
  skip: { kind: 'boolean', doc: 'Leave the matched layers in full precision.', default: false },
  format: {
    kind: 'enum',
    doc: 'How the matched layers are stored, overriding the top-level `format` for them.',
    values: EXPORT_FORMATS,
    default: 'auto',
    valueDocs: FORMAT_DOCS,
  },
  settings: settingsField,
};

/** The whole recipe document. */
export const RECIPE_SCHEMA: Record<string, FieldSchema> = {
  version: {
    kind: 'number',
    doc: `Recipe format version (currently ${RECIPE_VERSION}).`,
    default: RECIPE_VERSION,
    integer: true,
    allowed: [RECIPE_VERSION],
  },
  model: { kind: 'string', required: true, path: true, doc: 'The ONNX model to compress, relative to the recipe file.' },
  output: {
    kind: 'string',
    required: true,
    path: true,
    doc: 'Where the compressed model is written (atomically; never the input). The report goes next to it as `<name>.report.json`.',
  },
  format: {
    kind: 'enum',
    doc: "How compressed weights are stored (a rule's `format` overrides it for its layers).",
    values: EXPORT_FORMATS,
    default: 'auto',
    valueDocs: FORMAT_DOCS,
  },
  seed: { kind: 'number', doc: 'Random seed (calibration sampling, sketches).', default: 0, integer: true, min: 0, max: 2147483647 },
  threads: { kind: 'number', doc: 'Threads for the native kernels (0 = all cores).', default: 0, integer: true, min: 0, max: 1024 },
  accuracy_level: {
    kind: 'number',
    doc: 'The `accuracy_level` written on every `MatMulNBits` node (and the level onnxruntime uses when it fuses `qdq` weights into MatMulNBits): the type its activations are computed in. `4` (int8 activations, what onnxruntime-genai writes for CPU) is the fast CPU level; `0` leaves it unset (fp32 activations, exact). Evaluation runs the model at this level, so the reported quality and latency are what you get.',
    default: DEFAULT_ACCURACY_LEVEL,
    integer: true,
    allowed: [0, 1, 2, 3, 4],
  },
  rotation: {
    kind: 'object',
    doc: 'QuaRot-style offline rotation (Ashkboos et al. 2024) applied before calibration: the RMSNorm scales are folded into the linears after them, then the residual stream is rotated by a seeded randomized Hadamard matrix R (embedding E·R, stream readers Rᵀ·W, stream writers W·R, the LM head too). The full-precision model computes the same outputs; outliers are spread over all channels, so every method then quantizes the rotated weights with less error. Needs a decoder whose residual stream starts at the token embedding (learned position tables may be added to it) and is read only by norms and linear layers (a diagnostic names the node that prevents it). Pre-LN LayerNorm models (GPT-2, OPT: `LayerNormalization`, `SkipLayerNormalization` or the decomposed form) are made rotatable first, as in QuaRot/SliceGPT: every stream writer is centred so the stream is mean-free, and each LayerNorm becomes an RMSNorm with its γ and β folded into the linears after it (β·W added to their biases). Post-LN models (BERT) cannot be rotated. A tied LM head is untied first: it gets its own copy of the embedding table (the report says how many bytes).',
    fields: {
      method: {
        kind: 'enum',
        doc: 'Which rotation.',
        values: ['none', 'hadamard'],
        default: 'none',
        valueDocs: {
          none: 'No rotation.',
          hadamard:
            'R = diag(s)·H/√d with s a seeded ±1 vector and H a Hadamard matrix of the stream width d (Sylvester 2^k, or 2^k ⊗ Paley; a seeded random orthogonal matrix for widths with neither).',
        },
      },
      seed: {
        kind: 'number',
        doc: 'Seed of the random signs (and of the random orthogonal fallback).',
        default: 0,
        integer: true,
        min: 0,
        max: 2147483647,
      },
      online: {
        kind: 'enum',
        doc: "QuaRot's online Hadamard: also rotate the inputs of stream writers at run time, with an inserted standard `MatMul` by a constant orthogonal matrix Q (the writer's weight becomes Qᵀ·W). Spreads the outliers of those activations for activation quantization (W4A8) and of those weights' input side; costs one k×k product per token and layer.",
        values: ['none', 'down', 'all'],
        default: 'none',
        valueDocs: {
          none: 'Offline only: nothing is added to the graph.',
          down: 'Before the MLP down projections (writers fed by a gate or an activation).',
          all: 'Before every stream writer (the attention output projections too).',
        },
      },
    },
  },
  memory: {
    kind: 'object',
    doc: 'How much memory the job may use. When the whole model does not fit, calibration and quantization stream block by block (one onnxruntime session per block, weights loaded in place, activations cached in RAM and beyond that on disk).',
    fields: {
      budget_mb: {
        kind: 'number',
        doc: 'Memory budget in MB (10⁶ bytes); unset = what the machine has free when the job starts. `lowbit run --memory` overrides it.',
        integer: true,
        min: 1,
        max: 1e9,
      },
      streaming: {
        kind: 'enum',
        doc: 'Block streaming.',
        values: ['auto', 'always', 'never'],
        default: 'auto',
        valueDocs: {
          auto: 'Stream when the whole model does not fit the budget.',
          always: 'Always stream (same codes as the whole-model path).',
          never: 'Never stream.',
        },
      },
      cache: {
        kind: 'string',
        path: true,
        doc: 'Folder where cached activations beyond the RAM share go (a private subfolder, deleted afterwards); default: the system temp folder.',
      },
    },
  },
  calibration: {
    kind: 'object',
    doc: 'Data the calibration statistics (Hessians, activation magnitudes) come from. Give one of `text` (with `tokenizer`), `tensors` or `images`; none = random token ids.',
    fields: {
      text: { kind: 'string', path: true, doc: 'A UTF-8 text file, tokenized and cut into `samples` windows of `sequence_length` tokens.' },
      tokenizer: { kind: 'string', path: true, doc: 'A Hugging Face `tokenizer.json` (required with `text`).' },
      tensors: { kind: 'string', path: true, doc: 'An `.npz` archive or a folder of `.npy` files, one per model input.' },
      images: { kind: 'string', path: true, doc: 'A folder of images (vision models), preprocessed by `image:`.' },
      image: { kind: 'object', doc: 'Image preprocessing for `images:`.', fields: imageFields },
      samples: { kind: 'number', doc: 'Calibration samples (sequences or images).', default: 32, integer: true, min: 1, max: 100000 },
      sequence_length: { kind: 'number', doc: 'Tokens per calibration sequence.', default: 256, integer: true, min: 1, max: 1048576 },
      offset: {
        kind: 'number',
        doc: 'Tokens skipped at the start of `text`. When unset and `text` is also the evaluation text, calibration windows are taken from the end of the file so the two never overlap; otherwise 0.',
        integer: true,
        min: 0,
        max: 1e12,
      },
      mode: {
        kind: 'enum',
        doc: 'How layer inputs are collected.',
        values: ['parallel', 'sequential'],
        default: 'parallel',
        valueDocs: {
          parallel: "Every layer sees the full-precision model's activations (one calibration pass).",
          sequential:
            'Each block is calibrated on the outputs of the already-quantized blocks before it (GPTQ `true_sequential`); AWQ / SmoothQuant / OS+ search and fold their scales block by block on those outputs.',
        },
      },
    },
  },
  defaults: {
    kind: 'object',
    doc: 'Settings for every quantizable layer before the `layers:` rules apply.',
    fields: {
      method: methodField,
      bits: bitsField,
      sparsity: sparsityField,
      group_size: groupField,
      symmetric: symField,
      settings: settingsField,
    },
  },
  layers: {
    kind: 'rules',
    doc: 'Ordered rules; later rules override earlier ones field by field. Each has a `match` and any of `method`, `bits`, `sparsity`, `group_size`, `symmetric`, `skip`, `format`, `settings`.',
    item: RULE_FIELDS,
  },
  methods: {
    kind: 'methodSettings',
    doc: 'Per-method settings, e.g. `gptq: { damp: 0.01, block_size: 128 }`. Only the keys the method takes are allowed.',
  },
  inputs: {
    kind: 'inputs',
    values: INPUT_RULES,
    valueDocs: INPUT_RULE_DOCS,
    doc: "How the model's graph inputs are fed from text windows, overriding the built-in rule table (`input_ids` ← tokens, `attention_mask` ← ones, `position_ids` ← 0..T−1, `past_key_values.*` ← an empty cache, GroupQueryAttention `seqlens_k` / `total_sequence_length`, `token_type_ids` ← zeros). Keys are the model's input names; a value is a rule name or a number (a constant: static dims as declared, symbolic axis 0 = batch, other symbolic axes = T).",
  },
  budget: {
    kind: 'object',
    doc: 'A size budget for `lowbit suggest` (and the editor\'s "Suggest rules for the budget"): per layer, the candidate (method × bits × group size) that minimizes the estimated loss so that the stored size fits, chosen by an exact knapsack. Give one of `bits_per_weight`, `bytes` or `ratio`. The suggestion is written as `layers:` rules; `lowbit run` ignores this section.',
    fields: {
      bits_per_weight: {
        kind: 'number',
        doc: 'Stored bits per weight over the quantized layers, as the file holds them (codes, scales, zero points, packed decode graphs).',
        min: 0.5,
        max: 32,
      },
      bytes: {
        kind: 'number',
        doc: 'Size of the whole output `.onnx` in bytes (layers left in full precision and the rest of the graph included).',
        integer: true,
        min: 1,
        max: 1e15,
      },
      ratio: { kind: 'number', doc: 'Size of the output `.onnx` as a fraction of the full-precision file.', min: 0.001, max: 1 },
      methods: {
        kind: 'enumList',
        doc: 'Methods tried per layer (each must suit `format`). Default: gptq with calibration data, rtn without.',
        values: METHODS,
      },
      bits: {
        kind: 'numberList',
        doc: 'Bit widths tried per layer (those `format` can store). Default: matmulnbits 2, 4, 8; qdq 4, 8; packed and fake 1, 2, 3, 4, 8 (packed layers pay for their decode graph, so 1 bit is what fits tight budgets).',
      },
      group_sizes: {
        kind: 'numberList',
        doc: 'Group sizes tried per layer (`-1` = per row; matmulnbits needs powers of 2 ≥ 16). Default: 32, 128.',
      },
      estimate: {
        kind: 'enum',
        doc: 'Per-layer loss estimate the knapsack minimizes (summed over layers).',
        values: ['kl', 'proxy'],
        default: 'kl',
        valueDocs: {
          kl: 'Measured end-to-end KL(FP‖Q) on `samples` calibration-text windows with only that layer quantized with that candidate (needs `calibration.text`; falls back to `proxy` otherwise).',
          proxy: 'Hessian-weighted output error tr(ΔW H ΔWᵀ) of the layer (absolute, so layers compare), no extra model runs.',
        },
      },
      samples: {
        kind: 'number',
        doc: 'Calibration-text windows the `kl` estimate runs on (taken from the calibration range, never the evaluation text).',
        default: 4,
        integer: true,
        min: 1,
        max: 10000,
      },
    },
  },
  evaluate: {
    kind: 'object',
    doc: 'Held-out evaluation of full precision vs compressed. Omit to skip evaluation (size metrics only).',
    fields: {
      text: { kind: 'string', path: true, doc: 'A UTF-8 text file of held-out text.' },
      tokenizer: { kind: 'string', path: true, doc: 'Tokenizer for `text` (default: `calibration.tokenizer`).' },
      tensors: { kind: 'string', path: true, doc: 'An `.npz` archive or a folder of `.npy` inputs.' },
      images: { kind: 'string', path: true, doc: 'A folder of evaluation images.' },
      labels: { kind: 'string', path: true, doc: 'Labels for `images` (accuracy / CER).' },
      image: { kind: 'object', doc: 'Image preprocessing (default: `calibration.image`).', fields: imageFields },
      samples: { kind: 'number', doc: 'Evaluation samples.', default: 16, integer: true, min: 1, max: 100000 },
      sequence_length: { kind: 'number', doc: 'Tokens per evaluation sequence.', default: 256, integer: true, min: 1, max: 1048576 },
      offset: { kind: 'number', doc: 'Tokens skipped at the start of `text`.', default: 0, integer: true, min: 0, max: 1e12 },
      metrics: {
        kind: 'enumList',
        doc: 'Metrics to compute. `latency` on a language model times a batch-1 prefill and per-token decode (through the KV cache when the model has one) for both models.',
        values: METRICS,
        default: ['perplexity', 'kl_divergence', 'top1_agreement', 'size'],
      },
      generate: {
        kind: 'object',
        doc: 'Greedy generation with the FP and the compressed model from `prompt` (through the KV cache when the model has one; needs `text` and a tokenizer). The report shows both texts and the first position where they diverge.',
        fields: {
          prompt: {
            kind: 'string',
            required: true,
            doc: "The prompt text, encoded with the tokenizer's template (Llama: a BOS first).",
            examples: ['Once upon a time'],
          },
          tokens: { kind: 'number', doc: 'New tokens generated by each model.', default: 32, integer: true, min: 1, max: 4096 },
        },
      },
    },
  },
};

/** Defaults of `defaults:` as a plain object. */
export const DEFAULT_LAYER_CONFIG = { method: 'rtn' as Method, bits: 4, groupSize: 32, symmetric: false };

/** The schema for the value at a key path (e.g. ['calibration','samples'], ['layers','0','bits']). */
export function schemaAt(path: readonly string[]): FieldSchema | undefined {
  let fields: Record<string, FieldSchema> | undefined = RECIPE_SCHEMA;
  let current: FieldSchema | undefined;
  for (let i = 0; i < path.length; i++) {
    const key = path[i];
    if (current?.kind === 'rules') {
      if (!/^\d+$/.test(key)) return undefined;
      fields = current.item;
      current = undefined;
      continue;
    }
    if (current?.kind === 'methodSettings') {
      const info = METHOD_INFO[key as Method];
      if (!info) return undefined;
      current = { kind: 'object', doc: info.doc, fields: info.settings };
      fields = info.settings;
      continue;
    }
    if (!fields) return undefined;
    current = fields[key];
    if (!current) return undefined;
    fields = current.kind === 'object' ? current.fields : undefined;
  }
  return current;
}

/** The default value of a method setting, with all of a method's defaults. */
export function methodDefaults(method: Method): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(METHOD_INFO[method].settings)) if ('default' in f && f.default !== undefined) out[k] = f.default;
  return out;
}

/** Levenshtein distance (for did-you-mean). */
export function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 8) return 99;
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** The closest candidate within a small edit distance, for "did you mean". */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const limit = word.length < 4 ? 1 : Math.min(3, Math.max(2, Math.floor(word.length / 3)));
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= limit ? best : undefined;
}

/** A short human description of a field's type, for messages and docs. */
export function describeType(f: FieldSchema): string {
  switch (f.kind) {
    case 'string':
      return f.path ? 'a path' : 'a string';
    case 'number':
      return f.allowed
        ? `one of ${f.allowed.join(', ')}`
        : `${f.integer ? 'an integer' : 'a number'}${f.min !== undefined ? ` ≥ ${f.min}` : ''}${f.max !== undefined ? ` and ≤ ${f.max}` : ''}`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${f.values.join(', ')}`;
    case 'object':
    case 'methodSettings':
    case 'settings':
      return 'a mapping';
    case 'inputs':
      return `a mapping of model input names to ${f.values.join(', ')} or a number`;
    case 'enumList':
      return `a list of ${f.values.join(', ')}`;
    case 'numberList':
      return 'a list of numbers';
    case 'sparsity':
      return `a number ≥ ${f.min} and < ${f.max}, or ${f.patterns.map((p) => `"${p}"`).join(' or ')}`;
    case 'rules':
      return 'a list of rules';
  }
}
