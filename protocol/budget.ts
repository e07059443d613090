/**
 * Budgeted mixed precision (`budget:` in the recipe, `lowbit suggest`): the resolved budget the
 * engine receives, and the suggestion it returns (CLI --json, the LSP and the Pareto panel share it).
 */
import type { Method, StoredFormat } from './plan';

export type BudgetTarget = { kind: 'bits_per_weight'; value: number } | { kind: 'bytes'; value: number } | { kind: 'ratio'; value: number };

export interface BudgetPlan {
  target: BudgetTarget;
  methods?: Method[];
  bits?: number[];
  groupSizes?: number[];
  estimate: 'kl' | 'proxy';
  /** Calibration-text windows for the `kl` estimate. */
  samples: number;
}

export interface SuggestCandidate {
  method: Method;
  bits: number;
  groupSize: number;
  label: string;
}

/** One layer's measured options, one per candidate (same order as `candidates`). */
export interface SuggestLayer {
  name: string;
  params: number;
  /** Stored bytes per candidate (the size model). */
  bytes: number[];
  /** The format each candidate is stored in for this layer (recipe/storedFormat.ts; per layer under `auto`). */
  stored: StoredFormat[];
  /** Estimated loss per candidate (what the knapsack minimizes). */
  loss: number[];
  /** Hessian-weighted output error tr(ΔW H ΔWᵀ) per candidate (absolute). */
  proxy: number[];
  /** Measured KL per candidate (estimate `kl` only). */
  kl?: number[];
  /** Index of the chosen candidate. */
  chosen: number;
}

/** One configuration on the size / estimated-loss plane. */
export interface SuggestPoint {
  label: string;
  /** Stored bytes of the quantized layers (size model). */
  bytes: number;
  /** The output file's size. */
  fileBytes: number;
  /** True when `fileBytes` was measured by exporting this configuration (else: the size model's sum). */
  measured?: boolean;
  bitsPerWeight: number;
  /** Estimated loss (sum over layers). */
  loss: number;
  fits: boolean;
  /** This configuration as rules (uniform candidates; the suggestion's are `SuggestResult.yaml`). */
  yaml?: string;
}

export interface SuggestedRule {
  match: string;
  method: Method;
  bits: number;
  groupSize: number;
  /** The one-line comment written above the rule. */
  comment: string;
  layers: string[];
}

export interface SuggestResult {
  recipe: string;
  format: string;
  target: BudgetTarget;
  estimate: 'kl' | 'proxy';
  /** Bytes the quantized layers may store (summed size-model costs), and the parameters they hold. */
  capacityBytes: number;
  /** The output file size the budget allows. */
  fileTarget: number;
  params: number;
  /** Bytes of the rest of the file (the input file minus the quantized layers' float weights). */
  fixedBytes: number;
  candidates: SuggestCandidate[];
  layers: SuggestLayer[];
  chosen: SuggestPoint;
  /** Every candidate on every layer. */
  uniform: SuggestPoint[];
  /** Best estimated loss at each size (the knapsack's table), sampled; `choice` = candidate index per layer. */
  frontier: { bytes: number; bitsPerWeight: number; loss: number; choice: number[]; yaml: string }[];
  knapsack: { exact: boolean; unit: number; boundBytes: number };
  rules: SuggestedRule[];
  /** The rules as YAML (with comments), to put under `layers:`. */
  yaml: string;
  seed: number;
  /** When the suggestion was made (ISO time), to tell a later run's report from an earlier one. */
  created_at: string;
  /** Spearman ρ of the Hessian proxy vs the measured single-layer KL over every layer × candidate (estimate `kl`). */
  proxyKlSpearman?: number;
}

/** Progress per layer while candidates are measured. */
export interface SuggestProgress {
  stage: 'calibrate' | 'measure' | 'solve';
  message: string;
  layer?: string;
  index?: number;
  total?: number;
}
