/**
 * `lowbit suggest <recipe> [--bits-per-weight X | --bytes N | --ratio R] [--json] [--write]`:
 * the per-layer mix of candidates that fits the budget (the recipe's `budget:` section, or the flag),
 * printed as commented `layers:` rules; `--write` puts them into the recipe (atomically, between
 * `# lowbit suggest` markers). Progress goes to stderr, one line per layer. Ctrl-C cancels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BudgetPlan, BudgetTarget, SuggestResult } from '../protocol/budget';
import { readBudget } from '../recipe/budget';
import { loadRecipePlan } from '../recipe/load';
import { readRecipe } from '../recipe/checkRecipe';
import { applyEdit, suggestionEdit } from '../recipe/suggestionEdit';
import { suggestionSummary as summaryLine } from '../language-server/src/services/suggestEdit';
import { modelHost } from '../language-server/src/services/modelSource';

const USAGE = 'usage: lowbit suggest <recipe.lowbit.yaml> [--bits-per-weight X | --bytes N | --ratio R] [--json] [--write]';

const FLAGS: Record<string, BudgetTarget['kind']> = { '--bits-per-weight': 'bits_per_weight', '--bytes': 'bytes', '--ratio': 'ratio' };

/** Parses the arguments; a string is a usage error. */
export function parseSuggestArgs(args: string[]): { recipe: string; target?: BudgetTarget; json: boolean; write: boolean } | string {
  let recipe: string | undefined, target: BudgetTarget | undefined;
  let json = false,
    write = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') json = true;
    else if (a === '--write') write = true;
    else if (FLAGS[a.split('=')[0]]) {
      const [flag, inline] = a.split('=');
      const raw = inline ?? args[++i];
      const value = Number(raw);
      const kind = FLAGS[flag];
      const ok =
        raw !== undefined &&
        Number.isFinite(value) &&
        value > 0 &&
        (kind !== 'bytes' || Number.isInteger(value)) &&
        (kind !== 'ratio' || value <= 1) &&
        (kind !== 'bits_per_weight' || value <= 32);
      if (!ok)
        return `${flag} needs ${kind === 'bytes' ? 'a whole number of bytes' : kind === 'ratio' ? 'a ratio in (0, 1]' : 'bits per weight in (0, 32]'} (got ${raw ?? 'nothing'})`;
      if (target) return 'give one budget (--bits-per-weight, --bytes or --ratio)';
      target = { kind, value } as BudgetTarget;
    } else if (a.startsWith('-') || recipe) return `unexpected argument '${a}'`;
    else recipe = a;
  }
  return recipe ? { recipe, target, json, write } : 'missing recipe';
}

/** Exit codes: 0 ok, 1 recipe errors or a failed suggestion, 2 usage. */
export async function main(args: string[]): Promise<number> {
  const a = parseSuggestArgs(args);
  if (typeof a === 'string') {
    process.stderr.write(`lowbit suggest: ${a}\n${USAGE}\n`);
    return 2;
  }
  const { plan, diagnostics } = await loadRecipePlan(a.recipe, modelHost);
  for (const d of diagnostics) process.stderr.write(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}\n`);
  if (!plan) {
    if (!diagnostics.some((d) => d.severity === 'error')) process.stderr.write(`${a.recipe}: the recipe did not resolve to a plan\n`);
    return 1;
  }
  const text = fs.readFileSync(plan.recipePath, 'utf8');
  const fromRecipe = readBudget(readRecipe(text));
  const budget: BudgetPlan | undefined = a.target ? { estimate: 'kl', samples: 4, ...fromRecipe, target: a.target } : fromRecipe;
  if (!budget) {
    process.stderr.write(
      `${plan.recipePath}: no budget: add \`budget: { bits_per_weight: 3.5 }\` to the recipe or pass --bits-per-weight\n`,
    );
    return 1;
  }
  const { suggest } = await import('../engine/budget/suggest');
  const ac = new AbortController();
  const onSigint = () => {
    process.stderr.write('cancelling…\n');
    ac.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    const r = await suggest(plan, budget, {
      signal: ac.signal,
      onProgress: (p) =>
        process.stderr.write(p.stage === 'measure' ? `[${p.index! + 1}/${p.total}] ${p.message}\n` : `${p.stage}: ${p.message}\n`),
    });
    if (a.write) {
      const next = applyEdit(text, suggestionEdit(text, r.yaml, summaryLine(r)));
      const tmp = path.join(path.dirname(plan.recipePath), `.${path.basename(plan.recipePath)}.${process.pid}.tmp`);
      fs.writeFileSync(tmp, next);
      fs.renameSync(tmp, plan.recipePath);
    }
    process.stdout.write(
      a.json ? JSON.stringify(r, null, 2) + '\n' : formatSuggestion(r) + (a.write ? `\nwrote the rules into ${plan.recipePath}\n` : ''),
    );
    return 0;
  } catch (e) {
    const err = e as Error;
    process.stderr.write(err.name === 'AbortError' ? 'lowbit suggest: cancelled; nothing written\n' : `lowbit suggest: ${err.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The human-readable output: summary, uniform candidates vs the suggestion, then the rules. */
export function formatSuggestion(r: SuggestResult): string {
  const rows = [...r.uniform, r.chosen].map(
    (p) => `| ${p.label} | ${p.bitsPerWeight.toFixed(2)} | ${p.bytes} | ${p.loss.toPrecision(4)} | ${p.fits ? 'yes' : 'no'} |`,
  );
  return [
    `budget: ${summaryLine(r)}`,
    `knapsack: ${r.knapsack.exact ? 'exact (byte granularity)' : `costs in units of ${r.knapsack.unit} bytes; loss ≤ the exact optimum at ${r.knapsack.boundBytes} bytes`}; capacity ${r.capacityBytes} bytes for ${r.params} weights`,
    '',
    `| configuration | bits/weight stored | bytes | est. ${r.estimate === 'kl' ? 'KL' : 'error'} | fits |`,
    '|---|---|---|---|---|',
    ...rows,
    '',
    'layers:',
    r.yaml.trimEnd(),
    '',
  ].join('\n');
}
