/**
 * Code lens above each `layers:` rule: how many layers it matches (and how many it still governs);
 * above `budget:`, "Suggest rules for this budget" (runs `lowbit.suggestBudget`).
 */
import type { CodeLens } from 'vscode-languageserver-types';
import { ruleMatches, effectiveLayers } from '../../../recipe/resolvePlan';
import { toRange } from './analysis';
import type { RecipeAnalysis } from './analysis';

/** One lens per rule; empty until the model is loaded. */
export function codeLenses(a: RecipeAnalysis): CodeLens[] {
  if (!a.layers) return [];
  const matches = ruleMatches(a.recipe, a.layers);
  const eff = effectiveLayers(a.recipe, a.layers);
  const budget = a.recipe.parsed.root?.kind === 'map' ? a.recipe.parsed.root.entries.find((e) => e.key === 'budget') : undefined;
  const budgetLens: CodeLens[] = budget
    ? [
        {
          range: { start: toRange(a.doc, budget.keySpan).start, end: toRange(a.doc, budget.keySpan).start },
          command: { title: 'Suggest rules for this budget', command: 'lowbit.suggestBudget', arguments: [a.doc.uri] },
        },
      ]
    : [];
  return [
    ...budgetLens,
    ...a.recipe.rules.map((r, i) => {
      const n = matches[i].length;
      const last = eff.filter((e) => e.rules[e.rules.length - 1] === i).length;
      const title = `matches ${n} layer${n === 1 ? '' : 's'}${n && last !== n ? ` (last rule for ${last})` : ''}`;
      const range = toRange(a.doc, r.span);
      return { range: { start: range.start, end: range.start }, command: { title, command: '' } };
    }),
  ];
}
