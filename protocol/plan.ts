/**
 * The validated plan: what the recipe resolves to once it is checked against the model.
 * Data flows one way: recipe text → parsed recipe → Plan → engine → report. The engine never
 * sees YAML; everything here is already resolved (absolute paths, one config per layer).
 */

/** Quantization methods. The recipe schema's method enum must list exactly these. */
export const METHODS = [
  'rtn',
  'gptq',
  'awq',
  'smoothquant',
  'osplus',
  'billm',
  'pbllm',
  'dualbin',
  'flrq',
  'lorc',
  'lqer',
  'hqq',
  'adaround',
  'sparsegpt',
  'wanda',
  'magnitude',
  'jsq',
] as const;
export type Method = (typeof METHODS)[number];

/** How the compressed weights are stored in the output model (`auto`: per layer, see recipe/storedFormat.ts). */
export const EXPORT_FORMATS = ['auto', 'matmulnbits', 'qdq', 'packed', 'fake'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** A format one layer is actually stored in (`auto` resolved). */
export type StoredFormat = Exclude<ExportFormat, 'auto'>;

/** MatMulNBits accuracy_level when the recipe gives none: 4 = int8 activations, the fast CPU level. */
export const DEFAULT_ACCURACY_LEVEL = 4;

/** A layer's pruning: `ratio` of its weights (unstructured) or `n` of every `m` consecutive input columns of each row. */
export type SparsityPlan = { ratio: number } | { n: number; m: number };

/** N:M patterns the recipe's `sparsity` accepts (besides a fraction). */
export const NM_PATTERNS = ['2:4', '4:8'] as const;

/** One layer's resolved configuration (after all recipe rules). */
export interface LayerPlan {
  /** Layer name = the weight tensor's name in the model. */
  name: string;
  method: Method;
  bits: number;
  /** Input columns per quantization group; -1 = one group per output channel (row). */
  groupSize: number;
  symmetric: boolean;
  /** How this layer is stored (a rule's `format`, or the top-level one with `auto` resolved for its op). Absent = `JobPlan.format`. */
  format?: StoredFormat;
  /** Method-specific settings, validated against the schema, defaults filled in. */
  settings: Record<string, unknown>;
  /** Pruning (sparsegpt, wanda, magnitude): a fraction of the weights, or N of every M input columns per row. Absent = dense. */
  sparsity?: SparsityPlan;
  /** Indices of the recipe rules that touched this layer (for "reveal rule"), in order. */
  rules: number[];
}

export type CalibrationPlan =
  | {
      kind: 'text';
      textPath: string;
      tokenizerPath: string;
      samples: number;
      sequenceLength: number;
      mode: 'parallel' | 'sequential';
      offset?: number;
    }
  | { kind: 'tensors'; path: string; samples: number; mode: 'parallel' | 'sequential' }
  | { kind: 'images'; path: string; samples: number; mode: 'parallel' | 'sequential'; image: ImageInputPlan }
  | { kind: 'random'; samples: number; seed: number; mode: 'parallel' | 'sequential' };

export interface ImageInputPlan {
  /** Target height and width; width -1 keeps the aspect ratio (text-line models). */
  height: number;
  width: number;
  mean: number[];
  std: number[];
  layout: 'nchw' | 'nhwc';
  channels: 'rgb' | 'bgr';
}

/** Input-binding rules (recipe/inputBinding.ts holds the table); the recipe's `inputs:` values. */
export const INPUT_RULES = [
  'token_ids',
  'attention_mask',
  'positions',
  'empty_past',
  'seqlens_k',
  'total_sequence_length',
  'zeros',
  'use_cache_branch',
] as const;
export type InputRule = (typeof INPUT_RULES)[number];
/** A recipe `inputs:` entry: a rule name or a constant fill value. */
export type InputOverride = InputRule | number;

export type Metric = 'perplexity' | 'kl_divergence' | 'top1_agreement' | 'size' | 'latency' | 'output_agreement' | 'accuracy' | 'cer';

/** Greedy generation of `tokens` new tokens from `prompt` (text evaluation only). */
export interface GeneratePlan {
  prompt: string;
  tokens: number;
}

export type EvaluationPlan =
  | {
      kind: 'text';
      textPath: string;
      tokenizerPath: string;
      samples: number;
      sequenceLength: number;
      offset?: number;
      metrics: Metric[];
      generate?: GeneratePlan;
    }
  | { kind: 'tensors'; path: string; samples: number; metrics: Metric[] }
  | { kind: 'images'; path: string; samples: number; image: ImageInputPlan; labelsPath?: string; metrics: Metric[] }
  | { kind: 'none'; metrics: Metric[] };

export interface JobPlan {
  /** Absolute path of the recipe the plan came from (for messages and the report). */
  recipePath: string;
  modelPath: string;
  outputPath: string;
  /** Where report.json goes (default: next to the output, `<output>.report.json`). */
  reportPath: string;
  format: ExportFormat;
  calibration: CalibrationPlan;
  evaluation: EvaluationPlan;
  /** Layers to quantize, in model order. Layers not listed (skipped) stay in full precision. */
  layers: LayerPlan[];
  /** Layers a rule skipped, with the rule index. */
  skipped: { name: string; rule: number }[];
  threads: number;
  seed: number;
  /** MatMulNBits accuracy_level written and evaluated (0 = unset/exact, 4 = int8 activations; default 4). */
  accuracyLevel?: number;
  /** The recipe's `inputs:` overrides of the input-binding rules, by graph input name. */
  inputs?: Record<string, InputOverride>;
  /** The residual-stream rotation applied before calibration (engine/transforms/rotation.ts); absent = none. */
  rotation?: RotationPlanInput;
  /** The memory budget (absent: what the machine has free) and block streaming (engine/stream). */
  memory?: MemoryPlanInput;
}

/** `rotation:` in the recipe. */
export interface RotationPlanInput {
  method: 'hadamard';
  seed: number;
  /** Online rotations before stream writers (an inserted MatMul by a constant orthogonal matrix); default none. */
  online?: 'none' | 'down' | 'all';
}

/** `memory:` in the recipe (and `lowbit run --memory`). */
export interface MemoryPlanInput {
  budgetBytes?: number;
  /** auto: stream when the whole model does not fit the budget. */
  streaming: 'auto' | 'always' | 'never';
  /** Where the activation cache spills beyond its RAM share (default: the system temp folder). */
  cacheFolder?: string;
}

/** Progress events the engine emits; the server maps them to $/progress, the CLI to a line per layer. */
export type JobProgress =
  | { stage: 'load' | 'calibrate' | 'export' | 'evaluate' | 'done'; message: string; fraction?: number }
  | { stage: 'quantize'; message: string; layer: string; index: number; total: number; fraction?: number };
