/**
 * Layer-name patterns: globs (`*` any run of characters including dots, `?` one character,
 * `[abc]` a class, `{a,b}` alternatives) or `re:<regex>` (full match, the regular subset of
 * JavaScript regexps: see recipe/patternSyntax). Every pattern compiles to an automaton that matches
 * in time linear in the name (recipe/patternAutomaton); no pattern shape can make matching backtrack.
 * The work of one request is also counted against a step budget, so a document with many patterns
 * against a model with many layers stays bounded too.
 */
import { Automaton, MatchBudgetExceeded, nameTrie, type MatchBudget, type NameTrie } from './patternAutomaton';
import { parseGlob, parseRegex, PatternSyntaxError, type PatternNode } from './patternSyntax';

export { MatchBudgetExceeded, nameTrie, type MatchBudget, type NameTrie };

/** Longest pattern accepted. */
export const MAX_PATTERN_LENGTH = 500;
/** Steps (automaton states visited) one document's matching may take: about 0.1–0.5 s of work. */
export const DOCUMENT_MATCH_STEPS = 20_000_000;

export type CompiledPattern =
  | {
      ok: true;
      test: (name: string, budget?: MatchBudget) => boolean;
      /** The names of a trie (see `nameTrie`) the pattern matches; the way to match many names. */
      filter: (names: NameTrie, budget: MatchBudget) => Set<string>;
      /** `test` without a shared budget, for callers written against RegExp. */
      regex: Pick<RegExp, 'test'>;
    }
  | { ok: false; error: string };

/** A fresh budget for one request. */
export const matchBudget = (limit = DOCUMENT_MATCH_STEPS): MatchBudget => ({ used: 0, limit });

const cache = new Map<string, CompiledPattern>();

/** Compile a `match:` pattern (cached). */
export function compilePattern(pattern: string): CompiledPattern {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const out = compileUncached(pattern);
  if (cache.size > 200_000) cache.clear();
  cache.set(pattern, out);
  return out;
}

const GLOB_META = /[*?[{]/;

function compileUncached(pattern: string): CompiledPattern {
  if (pattern.length > MAX_PATTERN_LENGTH) return { ok: false, error: `pattern longer than ${MAX_PATTERN_LENGTH} characters` };
  const isRe = pattern.startsWith('re:');
  if (!isRe && !GLOB_META.test(pattern)) {
    // A plain name: equality, no automaton.
    const test = (name: string) => name === pattern;
    const filter = (trie: NameTrie, budget: MatchBudget) => {
      let n: NameTrie | undefined = trie;
      for (const ch of pattern) {
        if (++budget.used > budget.limit) throw new MatchBudgetExceeded(budget.limit);
        n = n.children.get(ch.codePointAt(0)!);
        if (!n) return new Set<string>();
      }
      return new Set(n.names);
    };
    return { ok: true, test, filter, regex: { test } };
  }
  let auto: Automaton, tree: PatternNode;
  try {
    tree = isRe ? parseRegex(pattern.slice(3)) : parseGlob(pattern);
    auto = new Automaton(tree);
  } catch (e) {
    if (e instanceof PatternSyntaxError)
      return {
        ok: false,
        error: `${isRe ? 'invalid regular expression' : 'invalid glob'}: ${e.message} (at character ${e.offset + 1}${isRe ? ' after `re:`' : ''})`,
      };
    if (e instanceof RangeError) return { ok: false, error: e.message };
    throw e;
  }
  const test = (name: string, budget?: MatchBudget) =>
    // Without a shared budget one call is still linear: at most one NFA pass per character, plus the start.
    auto.test(name, budget ?? { used: 0, limit: (name.length + 2) * (auto.size + 1) * 2 + 64 });
  // A literal every match contains: names without it are ruled out before the automaton runs (its lazy
  // DFA states are what thousands of distinct patterns cost: issue 17's 40k regexes).
  const literal = requiredLiteral(tree);
  const filter = (trie: NameTrie, budget: MatchBudget) =>
    literal && !namesOf(trie).some((n) => n.includes(literal)) ? new Set<string>() : auto.filter(trie, budget);
  return { ok: true, test, filter, regex: { test: (name: string) => test(name) } };
}

/**
 * The longest run of single characters in the pattern's top-level sequence (groups without a
 * quantifier flattened): a full match always contains it. '' when there is none.
 */
export function requiredLiteral(tree: PatternNode): string {
  let best = '',
    run = '';
  const visit = (node: PatternNode): void => {
    if (node.t === 'seq') return node.items.forEach(visit);
    const r = node.t === 'char' && !node.set.negate && node.set.ranges.length === 2 && node.set.ranges[0] === node.set.ranges[1];
    if (r) {
      run += String.fromCodePoint(node.set.ranges[0]);
      if (run.length > best.length) best = run;
    } else if (node.t !== 'empty') run = '';
  };
  visit(tree);
  return best;
}

const trieNames = new WeakMap<NameTrie, string[]>();

/** Every name listed in `trie` (computed once per trie). */
function namesOf(trie: NameTrie): string[] {
  let out = trieNames.get(trie);
  if (!out) {
    const acc: string[] = [];
    const walk = (n: NameTrie): void => {
      acc.push(...n.names);
      for (const c of n.children.values()) walk(c);
    };
    walk(trie);
    trieNames.set(trie, (out = acc));
  }
  return out;
}

/**
 * Names among `names` that the pattern matches (empty when the pattern is invalid).
 * @throws MatchBudgetExceeded when the budget (default: one document's) runs out.
 */
export function matchLayers(pattern: string, names: readonly string[], budget?: MatchBudget): string[] {
  const c = compilePattern(pattern);
  if (!c.ok) return [];
  const hits = c.filter(nameTrie(names), budget ?? matchBudget());
  return names.filter((n) => hits.has(n));
}
