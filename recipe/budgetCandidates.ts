/**
 * Budget candidates: the per-layer choices (method × bits × group size) the planner weighs, with
 * defaults per export format. A candidate the format cannot store exactly is dropped here, so the
 * size model never prices a fallback the user did not ask for.
 */
import type { ExportFormat, Method } from '../protocol/plan';
import { FORMAT_BITS, METHOD_INFO } from './schema';

export interface Candidate {
  method: Method;
  bits: number;
  /** Input columns per group; -1 = one group per row. */
  groupSize: number;
}

/** What the recipe's `budget:` section asks for (already checked against the schema). */
export interface CandidateChoices {
  methods?: Method[];
  bits?: number[];
  groupSizes?: number[];
}

/** Default bit widths tried per format. */
export const DEFAULT_BUDGET_BITS: Record<ExportFormat, number[]> = {
  matmulnbits: [2, 4, 8],
  qdq: [4, 8],
  packed: [1, 2, 3, 4, 8],
  fake: [1, 2, 3, 4, 8],
  auto: [2, 4, 8],
};

/** Default group sizes tried (the 172-wide stories260K MLP rows make -1 and 32 differ). */
export const DEFAULT_BUDGET_GROUPS = [32, -1];

/** `gptq 4-bit g32`, `rtn 2-bit per-row`. */
export function candidateLabel(c: Candidate): string {
  return `${c.method} ${c.bits}-bit ${c.groupSize === -1 ? 'per-row' : `g${c.groupSize}`}`;
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * Why `c` cannot be stored exactly in `format` (undefined when it can). Under `auto` every layer is
 * stored in the form recipe/storedFormat.ts picks for its op (binarized weights packed), and the
 * budget prices exactly that form per layer, so only the grid itself must exist.
 */
export function unstorable(c: Candidate, format: ExportFormat): string | undefined {
  const info = METHOD_INFO[c.method];
  const stores = format === 'auto' ? info.formats.includes('auto') || info.formats.includes('packed') : info.formats.includes(format);
  if (!stores) return `${c.method} cannot be stored as ${format} (only ${info.formats.join(', ')})`;
  if (info.fixedBits === undefined && !FORMAT_BITS[format].includes(c.bits))
    return `${format} stores ${FORMAT_BITS[format].join('/')} bits, not ${c.bits}`;
  if (format === 'matmulnbits' && c.groupSize !== -1 && (!isPow2(c.groupSize) || c.groupSize < 16))
    return `matmulnbits needs a power-of-2 group size ≥ 16 (or -1), not ${c.groupSize}`;
  if (c.groupSize === 0 || c.groupSize < -1) return `group size must be -1 or ≥ 1, not ${c.groupSize}`;
  return undefined;
}

/** Methods the planner can price layer by layer: those that fold input scaling need the whole model's activations re-run. */
export const BUDGET_METHODS: readonly Method[] = ['rtn', 'gptq', 'billm', 'pbllm', 'dualbin', 'flrq', 'lorc', 'lqer'];

/**
 * The candidate list: the cross product of methods × bits × group sizes that `format` stores,
 * binarizers once per group size (their bits are fixed). Order is deterministic (methods, then bits,
 * then groups, as given).
 */
export function budgetCandidates(format: ExportFormat, hasCalibration: boolean, choices: CandidateChoices = {}): Candidate[] {
  const methods = choices.methods?.length ? choices.methods : ([hasCalibration ? 'gptq' : 'rtn'] as Method[]);
  const bits = choices.bits?.length ? choices.bits : DEFAULT_BUDGET_BITS[format];
  const groups = choices.groupSizes?.length ? choices.groupSizes : DEFAULT_BUDGET_GROUPS;
  const out: Candidate[] = [];
  const seen = new Set<string>();
  for (const method of methods) {
    const fixed = METHOD_INFO[method].fixedBits;
    for (const b of fixed !== undefined ? [fixed] : bits) {
      for (const groupSize of groups) {
        const c = { method, bits: b, groupSize };
        const key = candidateLabel(c);
        if (seen.has(key) || unstorable(c, format)) continue;
        seen.add(key);
        out.push(c);
      }
    }
  }
  return out;
}
