/**
 * The recipe's `budget:` section → BudgetPlan, with diagnostics on the section's own keys
 * (exactly one target; bit widths and group sizes the format can store; methods the planner prices).
 */
import type { BudgetPlan, BudgetTarget } from '../protocol/budget';
import type { ExportFormat, Method } from '../protocol/plan';
import type { RecipeDiagnostic } from './parse';
import type { Recipe } from './checkRecipe';
import { BUDGET_METHODS, budgetCandidates, unstorable } from './budgetCandidates';

const TARGETS = ['bits_per_weight', 'bytes', 'ratio'] as const;

/** Diagnostics of the `budget:` section (none when the recipe has no budget). */
export function budgetDiagnostics(recipe: Recipe): RecipeDiagnostic[] {
  const v = recipe.values;
  const out: RecipeDiagnostic[] = [];
  const given = TARGETS.filter((t) => v[`budget.${t}`]);
  const keys = Object.keys(v).filter((k) => k.startsWith('budget.'));
  if (!keys.length) return out;
  if (given.length > 1)
    out.push({
      span: v[`budget.${given[1]}`].keySpan,
      severity: 'error',
      message: `Give one budget, not ${given.map((g) => `\`${g}\``).join(' and ')}.`,
      code: 'conflict',
    });
  if (!given.length)
    out.push({
      span: v[keys[0]].keySpan,
      severity: 'error',
      message: '`budget` needs one of `bits_per_weight`, `bytes` or `ratio`.',
      code: 'missing-key',
      data: { key: 'bits_per_weight' },
    });
  const format = (v.format?.value as ExportFormat) ?? 'matmulnbits';
  const methods = v['budget.methods'];
  if (methods)
    for (const m of methods.value as Method[]) {
      if (!BUDGET_METHODS.includes(m))
        out.push({
          span: methods.span,
          severity: 'error',
          message: `budget.methods: ${m} folds input scaling into the model and cannot be priced layer by layer; use ${BUDGET_METHODS.join(', ')}.`,
          code: 'bad-value',
        });
    }
  const bits = v['budget.bits'];
  if (bits)
    for (const b of bits.value as number[])
      if (!Number.isInteger(b) || b < 1 || b > 8)
        out.push({
          span: bits.span,
          severity: 'error',
          message: `budget.bits: ${b} is not a bit width (integers 1–8).`,
          code: 'bad-value',
        });
  const groups = v['budget.group_sizes'];
  if (groups)
    for (const g of groups.value as number[])
      if (!Number.isInteger(g) || (g !== -1 && g < 1))
        out.push({
          span: groups.span,
          severity: 'error',
          message: `budget.group_sizes: ${g} is not a group size (-1 or an integer ≥ 1).`,
          code: 'bad-value',
        });
  if (!out.length) {
    const plan = readBudget(recipe);
    const cands = plan
      ? budgetCandidates(format, Boolean(v['calibration.text'] || v['calibration.tensors'] || v['calibration.images']), plan)
      : [];
    if (plan && !cands.length) {
      const why = (plan.methods ?? ['gptq' as Method])
        .flatMap((m) =>
          (plan.bits ?? [4]).flatMap((b) => (plan.groupSizes ?? [32]).map((g) => unstorable({ method: m, bits: b, groupSize: g }, format))),
        )
        .find(Boolean);
      out.push({
        span: v[keys[0]].keySpan,
        severity: 'error',
        message: `budget: no candidate can be stored as ${format}${why ? ` (${why})` : ''}.`,
        code: 'bad-value',
      });
    }
  }
  return out;
}

/** The budget as the engine takes it; undefined when the recipe has none (or no target). */
export function readBudget(recipe: Recipe): BudgetPlan | undefined {
  const v = recipe.values;
  const t = TARGETS.find((k) => v[`budget.${k}`]);
  if (!t) return undefined;
  const target = { kind: t, value: v[`budget.${t}`].value as number } as BudgetTarget;
  return {
    target,
    methods: v['budget.methods']?.value as Method[] | undefined,
    bits: v['budget.bits']?.value as number[] | undefined,
    groupSizes: v['budget.group_sizes']?.value as number[] | undefined,
    estimate: (v['budget.estimate']?.value as 'kl' | 'proxy') ?? 'kl',
    samples: (v['budget.samples']?.value as number) ?? 4,
  };
}
