/**
 * A per-layer choice → ordered `layers:` rules a person can read: one rule per layer family
 * (`layers.*.w2`) for the family's most common choice, then narrower rules for the exceptions.
 * Every rule sets method, bits and group_size, so its effect does not depend on the rules above it;
 * the result is checked by matching the rules back onto the layer names.
 */
import type { SuggestedRule } from '../../protocol/budget';
import { compilePattern } from '../../recipe/match';
import { candidateLabel, type Candidate } from '../../recipe/budgetCandidates';

const GLOB_SPECIAL = /[*?[\]{},\\]/;

/** A glob matching exactly `name` (a `re:` pattern when the name holds glob characters). */
function exact(name: string): string {
  return GLOB_SPECIAL.test(name) ? `re:${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}` : name;
}

/** A pattern matching exactly `names`. */
function either(names: string[]): string {
  if (names.length === 1) return exact(names[0]);
  return names.some((n) => GLOB_SPECIAL.test(n))
    ? `re:(?:${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`
    : `{${names.join(',')}}`;
}

/** `layers.3.w2` → `layers.*.w2` (whole dot-separated numeric segments only: `w2` stays). */
export function familyOf(name: string): string {
  return GLOB_SPECIAL.test(name) ? name : name.replace(/(^|\.)\d+(?=\.|$)/g, '$1*');
}

export interface RuleInput {
  /** Planned layer names, in model order. */
  layers: string[];
  /** Chosen candidate per layer (same order). */
  chosen: Candidate[];
  /** Comment for a rule covering `layers` with `candidate`. */
  comment: (candidate: Candidate, layers: string[]) => string;
}

/** Builds the rules; see the file comment. Falls back to one rule per layer if a family pattern reaches too far. */
export function choiceRules(input: RuleInput): SuggestedRule[] {
  const rules = familyRules(input);
  return appliesExactly(rules, input) ? rules : input.layers.map((n, i) => rule(exact(n), input.chosen[i], [n], input));
}

function rule(match: string, c: Candidate, layers: string[], input: RuleInput): SuggestedRule {
  return { match, method: c.method, bits: c.bits, groupSize: c.groupSize, layers, comment: input.comment(c, layers) };
}

function familyRules(input: RuleInput): SuggestedRule[] {
  const families = new Map<string, number[]>();
  input.layers.forEach((n, i) => {
    const f = familyOf(n);
    families.set(f, [...(families.get(f) ?? []), i]);
  });
  const base: SuggestedRule[] = [],
    exceptions: SuggestedRule[] = [];
  for (const [family, idx] of families) {
    const byChoice = new Map<string, number[]>();
    for (const i of idx) {
      const k = candidateLabel(input.chosen[i]);
      byChoice.set(k, [...(byChoice.get(k) ?? []), i]);
    }
    // The family's most common choice (first on ties) is its base rule; the others are exceptions.
    const groups = [...byChoice.values()].sort((a, b) => b.length - a.length);
    const [first, ...rest] = groups;
    const familyPattern = idx.length > 1 ? family : exact(input.layers[idx[0]]);
    base.push(
      rule(
        familyPattern,
        input.chosen[first[0]],
        first.map((i) => input.layers[i]),
        input,
      ),
    );
    for (const g of rest)
      exceptions.push(
        rule(
          either(g.map((i) => input.layers[i])),
          input.chosen[g[0]],
          g.map((i) => input.layers[i]),
          input,
        ),
      );
  }
  return [...base, ...exceptions];
}

/** True when applying `rules` in order gives every layer its chosen candidate. */
function appliesExactly(rules: SuggestedRule[], input: RuleInput): boolean {
  return input.layers.every((name, i) => {
    let last: SuggestedRule | undefined;
    for (const r of rules) {
      const c = compilePattern(r.match);
      if (c.ok && c.regex.test(name)) last = r;
    }
    const want = input.chosen[i];
    return !!last && last.method === want.method && last.bits === want.bits && last.groupSize === want.groupSize;
  });
}

/** The rules as YAML list items (with their comments), indented by `indent` spaces. */
export function rulesYaml(rules: SuggestedRule[], indent = 2): string {
  const pad = ' '.repeat(indent);
  return (
    rules
      .map((r) =>
        [
          `${pad}# ${r.comment}`,
          `${pad}- match: ${JSON.stringify(r.match)}`,
          `${pad}  method: ${r.method}`,
          `${pad}  bits: ${r.bits}`,
          `${pad}  group_size: ${r.groupSize}`,
        ].join('\n'),
      )
      .join('\n') + '\n'
  );
}
