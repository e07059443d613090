/**
 * Linear-time matching of `match:` patterns: the pattern tree (recipe/patternSyntax) becomes a
 * Thompson NFA, run as a lazily built DFA (each DFA state is a set of NFA states, built once and its
 * transitions cached). A name of n code points costs at most n DFA steps, and each new DFA state at
 * most one pass over the NFA — never backtracking. Every pass is counted against a `MatchBudget`, so
 * the work one document may cause is bounded by a number, not by a clock.
 */
import { inSet, type CharSet, type PatternNode } from './patternSyntax';

/** Most NFA states a pattern may compile to (a 500-character pattern with `{n,m}` copies stays far below). */
export const MAX_NFA_STATES = 20_000;
/** DFA states kept per pattern before the cache is dropped and rebuilt as needed. */
const MAX_DFA_STATES = 4096;

/** Work allowance shared by the matches of one request; `used` grows by NFA states visited. */
export interface MatchBudget {
  used: number;
  limit: number;
}

/** Thrown when a budget is spent; names the limit. */
export class MatchBudgetExceeded extends Error {
  constructor(readonly limit: number) {
    super(`pattern matching needs more than ${limit} steps`);
  }
}

const CHAR = 0,
  SPLIT = 1,
  ACCEPT = 2,
  BOL = 3,
  EOL = 4,
  EPS = 5;

interface DfaState {
  states: Int32Array;
  next: Map<number, DfaState>;
  endAccepts?: boolean;
}

/** Names as a trie of code points, so that a pattern walks each shared prefix once. */
export interface NameTrie {
  children: Map<number, NameTrie>;
  names: string[];
}

/** Builds the trie of `names` (each name listed at its end node, duplicates kept). */
export function nameTrie(names: readonly string[]): NameTrie {
  const root: NameTrie = { children: new Map(), names: [] };
  for (const name of names) {
    let n = root;
    for (const ch of name) {
      const cp = ch.codePointAt(0)!;
      let c = n.children.get(cp);
      if (!c) n.children.set(cp, (c = { children: new Map(), names: [] }));
      n = c;
    }
    n.names.push(name);
  }
  return root;
}

/** A compiled pattern: `test(name, budget)` is a full match in O(|name|) DFA steps. */
export class Automaton {
  private kind: number[] = [];
  private out: number[] = [];
  private out2: number[] = [];
  private sets: (CharSet | undefined)[] = [];
  private start = 0;
  private dfa = new Map<string, DfaState>();
  private initial?: DfaState;
  private mark: Int32Array = new Int32Array(0);
  private gen = 0;

  constructor(tree: PatternNode) {
    const accept = this.add(ACCEPT);
    this.start = this.build(tree, accept);
    this.mark = new Int32Array(this.kind.length);
  }

  /** NFA size (for tests and limits). */
  get size(): number {
    return this.kind.length;
  }

  private add(kind: number, out = -1, out2 = -1, set?: CharSet): number {
    if (this.kind.length >= MAX_NFA_STATES) throw new RangeError(`the pattern expands to more than ${MAX_NFA_STATES} automaton states`);
    this.kind.push(kind);
    this.out.push(out);
    this.out2.push(out2);
    this.sets.push(set);
    return this.kind.length - 1;
  }

  /** Builds `node` followed by state `next`; returns its entry state (construction runs right to left). */
  private build(node: PatternNode, next: number): number {
    switch (node.t) {
      case 'empty':
        return next;
      case 'char':
        return this.add(CHAR, next, -1, node.set);
      case 'bol':
        return this.add(BOL, next);
      case 'eol':
        return this.add(EOL, next);
      case 'seq': {
        let s = next;
        for (let k = node.items.length - 1; k >= 0; k--) s = this.build(node.items[k], s);
        return s;
      }
      case 'alt': {
        let s = this.build(node.options[node.options.length - 1], next);
        for (let k = node.options.length - 2; k >= 0; k--) s = this.add(SPLIT, this.build(node.options[k], next), s);
        return s;
      }
      case 'repeat': {
        let s = next;
        if (node.max === Infinity) {
          const loop = this.add(SPLIT, -1, next);
          this.out[loop] = this.build(node.node, loop);
          s = loop;
        } else {
          for (let k = node.min; k < node.max; k++) s = this.add(SPLIT, this.build(node.node, s), s);
        }
        for (let k = 0; k < node.min; k++) s = this.build(node.node, s);
        return s === next ? this.add(EPS, next) : s;
      }
    }
  }

  /** The states reachable from `seeds` through ε moves (and `^` when at the start), keeping CHAR/ACCEPT/EOL. */
  private closure(seeds: number[], atStart: boolean, budget: MatchBudget): Int32Array {
    const gen = ++this.gen;
    const stack = seeds.slice();
    const kept: number[] = [];
    while (stack.length) {
      const s = stack.pop()!;
      if (this.mark[s] === gen) continue;
      this.mark[s] = gen;
      if (++budget.used > budget.limit) throw new MatchBudgetExceeded(budget.limit);
      const k = this.kind[s];
      if (k === CHAR || k === ACCEPT || k === EOL) kept.push(s);
      else if (k === SPLIT) {
        stack.push(this.out2[s], this.out[s]);
      } else if (k === EPS || (k === BOL && atStart)) stack.push(this.out[s]);
    }
    return Int32Array.from(kept).sort();
  }

  private intern(states: Int32Array): DfaState {
    const key = states.join(',');
    let d = this.dfa.get(key);
    if (!d) {
      if (this.dfa.size >= MAX_DFA_STATES) {
        this.dfa.clear();
        this.initial = undefined;
      }
      d = { states, next: new Map() };
      this.dfa.set(key, d);
    }
    return d;
  }

  private endAccepts(d: DfaState, budget: MatchBudget): boolean {
    if (d.endAccepts === undefined) {
      // At the end, `$` passes: follow EOL states (and their ε closure) looking for ACCEPT.
      let frontier = Array.from(d.states);
      const seen = new Set<number>();
      let accepts = false;
      while (frontier.length && !accepts) {
        const nxt: number[] = [];
        for (const s of frontier) {
          if (seen.has(s)) continue;
          seen.add(s);
          if (++budget.used > budget.limit) throw new MatchBudgetExceeded(budget.limit);
          if (this.kind[s] === ACCEPT) {
            accepts = true;
            break;
          }
          if (this.kind[s] === EOL) nxt.push(...this.closure([this.out[s]], false, budget));
        }
        frontier = nxt;
      }
      d.endAccepts = accepts;
    }
    return d.endAccepts;
  }

  private step(d: DfaState, cp: number, budget: MatchBudget): DfaState {
    if (++budget.used > budget.limit) throw new MatchBudgetExceeded(budget.limit);
    let n = d.next.get(cp);
    if (!n) {
      const seeds: number[] = [];
      for (const s of d.states) {
        if (this.kind[s] !== CHAR) continue;
        if (++budget.used > budget.limit) throw new MatchBudgetExceeded(budget.limit);
        if (inSet(this.sets[s]!, cp)) seeds.push(this.out[s]);
      }
      n = this.intern(seeds.length ? this.closure(seeds, false, budget) : new Int32Array(0));
      d.next.set(cp, n);
    }
    return n;
  }

  private first(budget: MatchBudget): DfaState {
    return (this.initial ??= this.intern(this.closure([this.start], true, budget)));
  }

  /** Full match of `name`; throws MatchBudgetExceeded when `budget` runs out. */
  test(name: string, budget: MatchBudget): boolean {
    let d = this.first(budget);
    for (const ch of name) {
      d = this.step(d, ch.codePointAt(0)!, budget);
      if (!d.states.length) return false;
    }
    return this.endAccepts(d, budget);
  }

  /** The names of `trie` this pattern fully matches, walking each trie edge at most once. */
  filter(trie: NameTrie, budget: MatchBudget): Set<string> {
    const out = new Set<string>();
    const stack: [NameTrie, DfaState][] = [[trie, this.first(budget)]];
    while (stack.length) {
      const [node, d] = stack.pop()!;
      if (node.names.length && this.endAccepts(d, budget)) for (const n of node.names) out.add(n);
      for (const [cp, child] of node.children) {
        const n = this.step(d, cp, budget);
        if (n.states.length) stack.push([child, n]);
      }
    }
    return out;
  }
}
