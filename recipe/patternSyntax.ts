/**
 * `match:` pattern syntax → a small regular-expression tree (no backtracking constructs), which
 * recipe/patternAutomaton turns into an automaton that matches in linear time.
 *
 * Globs: `*` any run of characters (dots included), `?` one character, `[abc]` / `[a-z]` / `[!abc]`
 * a class, `{a,b}` alternatives (nested allowed); everything else is literal.
 * `re:` patterns: the regular subset of JavaScript regexps — literals, `.`, classes, `\d \w \s`
 * (and negations), escapes, groups `( )`, `(?: )`, `(?<name> )`, `|`, `* + ? {n} {n,} {n,m}` (lazy
 * `?` suffix accepted, it changes nothing for a full match), `^` and `$`. Lookaround, backreferences
 * and `\b` are refused: they are not regular and would need backtracking.
 */

/** A set of code points: sorted inclusive ranges, possibly negated. */
export interface CharSet {
  ranges: number[];
  negate: boolean;
}

export type PatternNode =
  | { t: 'empty' }
  | { t: 'char'; set: CharSet }
  | { t: 'seq'; items: PatternNode[] }
  | { t: 'alt'; options: PatternNode[] }
  | { t: 'repeat'; node: PatternNode; min: number; max: number /* Infinity = unbounded */ }
  | { t: 'bol' }
  | { t: 'eol' };

/** A syntax error with the 0-based offset in the pattern text (after the `re:` prefix for regexps). */
export class PatternSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Largest `{n,m}` bound accepted (the automaton copies the repeated part). */
export const MAX_REPEAT = 100;

const single = (c: number): CharSet => ({ ranges: [c, c], negate: false });
const ANY: CharSet = { ranges: [0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029], negate: true };
const DIGIT = [0x30, 0x39];
const WORD = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
const SPACE = [
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f, 0x3000, 0x3000,
  0xfeff, 0xfeff,
];

/** Does `set` contain code point `c`? */
export function inSet(set: CharSet, c: number): boolean {
  const r = set.ranges;
  let hit = false;
  for (let i = 0; i < r.length; i += 2)
    if (c >= r[i] && c <= r[i + 1]) {
      hit = true;
      break;
    }
  return hit !== set.negate;
}

/** Glob → tree. */
export function parseGlob(p: string): PatternNode {
  const cps = [...p];
  let i = 0;
  const parseSeq = (depth: number): PatternNode => {
    const items: PatternNode[] = [];
    while (i < cps.length) {
      const c = cps[i];
      if (depth > 0 && (c === ',' || c === '}')) break;
      i++;
      if (c === '*') {
        while (cps[i] === '*') i++;
        items.push({ t: 'repeat', node: { t: 'char', set: ANY }, min: 0, max: Infinity });
      } else if (c === '?') items.push({ t: 'char', set: ANY });
      else if (c === '[') {
        const end = cps.indexOf(']', i);
        if (end < 0) throw new PatternSyntaxError('unclosed `[` in glob', i - 1);
        let body = cps.slice(i, end);
        const negate = body[0] === '!' || body[0] === '^';
        if (negate) body = body.slice(1);
        const ranges: number[] = [];
        for (let k = 0; k < body.length; k++) {
          const lo = body[k].codePointAt(0)!;
          if (body[k + 1] === '-' && k + 2 < body.length) {
            const hi = body[k + 2].codePointAt(0)!;
            if (hi < lo) throw new PatternSyntaxError(`range ${body[k]}-${body[k + 2]} out of order`, i + k);
            ranges.push(lo, hi);
            k += 2;
          } else ranges.push(lo, lo);
        }
        items.push({ t: 'char', set: { ranges, negate } });
        i = end + 1;
      } else if (c === '{') {
        const options: PatternNode[] = [parseSeq(depth + 1)];
        while (cps[i] === ',') {
          i++;
          options.push(parseSeq(depth + 1));
        }
        if (cps[i] !== '}') throw new PatternSyntaxError('unclosed `{` in glob', i);
        i++;
        items.push({ t: 'alt', options });
      } else items.push({ t: 'char', set: single(c.codePointAt(0)!) });
    }
    return { t: 'seq', items };
  };
  return parseSeq(0);
}

/** `re:` body → tree. */
export function parseRegex(src: string): PatternNode {
  const cps = [...src];
  let i = 0;
  const fail = (msg: string, at = i): never => {
    throw new PatternSyntaxError(msg, at);
  };
  const peek = () => cps[i];

  const hex = (n: number): number => {
    const h = cps.slice(i, i + n).join('');
    if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) fail('bad hexadecimal escape');
    i += n;
    return parseInt(h, 16);
  };
  /** After a backslash: a class (ranges) or one code point. */
  const escape = (inClass: boolean): { set?: number[]; negate?: boolean; cp?: number } => {
    const c = cps[i++];
    if (c === undefined) return fail('pattern ends with `\\`', i - 1);
    switch (c) {
      case 'd':
        return { set: DIGIT };
      case 'D':
        return { set: DIGIT, negate: true };
      case 'w':
        return { set: WORD };
      case 'W':
        return { set: WORD, negate: true };
      case 's':
        return { set: SPACE };
      case 'S':
        return { set: SPACE, negate: true };
      case 't':
        return { cp: 9 };
      case 'n':
        return { cp: 10 };
      case 'r':
        return { cp: 13 };
      case 'f':
        return { cp: 12 };
      case 'v':
        return { cp: 11 };
      case '0':
        return { cp: 0 };
      case 'x':
        return { cp: hex(2) };
      case 'u': {
        if (peek() === '{') {
          const end = cps.indexOf('}', i);
          if (end < 0) fail('unclosed `\\u{`');
          const h = cps.slice(i + 1, end).join('');
          if (!/^[0-9a-fA-F]{1,6}$/.test(h) || parseInt(h, 16) > 0x10ffff) fail('bad `\\u{…}` escape');
          i = end + 1;
          return { cp: parseInt(h, 16) };
        }
        return { cp: hex(4) };
      }
      case 'b':
        if (inClass) return { cp: 8 };
        return fail('`\\b` (word boundary) is not supported in re: patterns', i - 2);
      case 'B':
        return fail('`\\B` is not supported in re: patterns', i - 2);
      case 'k':
        return fail('backreferences are not supported in re: patterns (they need backtracking)', i - 2);
      case 'p':
      case 'P':
        return fail('`\\p{…}` property classes are not supported in re: patterns', i - 2);
      case 'c':
        return fail('`\\c` control escapes are not supported in re: patterns', i - 2);
      default:
        if (/[1-9]/.test(c)) return fail('backreferences are not supported in re: patterns (they need backtracking)', i - 2);
        if (/[A-Za-z0-9]/.test(c)) return fail(`unknown escape \`\\${c}\``, i - 2);
        return { cp: c.codePointAt(0)! };
    }
  };

  const parseClass = (): CharSet => {
    const start = i - 1;
    let negate = false;
    if (peek() === '^') {
      negate = true;
      i++;
    }
    const ranges: number[] = [];
    const negated: number[][] = [];
    const atom = (): { cp?: number; set?: number[]; negate?: boolean } => {
      const c = cps[i++];
      if (c === '\\') return escape(true);
      return { cp: c.codePointAt(0)! };
    };
    while (true) {
      if (i >= cps.length) fail('unclosed `[`', start);
      if (peek() === ']') {
        i++;
        break;
      }
      const a = atom();
      if (a.set) {
        if (a.negate) negated.push(a.set);
        else ranges.push(...a.set);
        continue;
      }
      if (peek() === '-' && cps[i + 1] !== undefined && cps[i + 1] !== ']') {
        i++;
        const b = atom();
        if (b.set || b.cp === undefined) fail('a class cannot be a range bound');
        if (b.cp! < a.cp!) fail('range out of order in character class');
        ranges.push(a.cp!, b.cp!);
      } else ranges.push(a.cp!, a.cp!);
    }
    if (!negated.length) return { ranges, negate };
    // [^…\D…] and friends: fold the negated classes in as the complement of their ranges.
    for (const n of negated) ranges.push(...complement(n));
    return { ranges, negate };
  };

  const parseAtom = (): PatternNode => {
    const c = cps[i++];
    switch (c) {
      case '.':
        return { t: 'char', set: ANY };
      case '^':
        return { t: 'bol' };
      case '$':
        return { t: 'eol' };
      case '[':
        return { t: 'char', set: parseClass() };
      case '\\': {
        const e = escape(false);
        return { t: 'char', set: e.set ? { ranges: e.set, negate: Boolean(e.negate) } : single(e.cp!) };
      }
      case '(': {
        const start = i - 1;
        if (peek() === '?') {
          const next = cps[i + 1];
          if (next === ':') i += 2;
          else if (next === '<' && cps[i + 2] !== '=' && cps[i + 2] !== '!') {
            const end = cps.indexOf('>', i);
            if (end < 0) fail('unclosed group name', start);
            i = end + 1;
          } else fail('lookaround groups `(?=`, `(?!`, `(?<=`, `(?<!` are not supported in re: patterns (they need backtracking)', start);
        }
        const inner = parseAlt();
        if (peek() !== ')') fail('unclosed `(`', start);
        i++;
        return inner;
      }
      case ')':
        return fail('unmatched `)`', i - 1);
      case '*':
      case '+':
      case '?':
        return fail(`nothing to repeat before \`${c}\``, i - 1);
      case '{':
        if (quantifierAt(i - 1)) fail('nothing to repeat before `{`', i - 1);
        return { t: 'char', set: single(0x7b) };
      default:
        return { t: 'char', set: single(c.codePointAt(0)!) };
    }
  };
  /** `{n}`, `{n,}` or `{n,m}` at `at`? */
  const quantifierAt = (at: number): { min: number; max: number; len: number } | undefined => {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(cps.slice(at, at + 16).join(''));
    if (!m) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    return { min, max, len: m[0].length };
  };
  const parseSeq = (): PatternNode => {
    const items: PatternNode[] = [];
    while (i < cps.length && peek() !== '|' && peek() !== ')') {
      let node = parseAtom();
      while (i < cps.length) {
        const q = peek();
        let min: number, max: number;
        if (q === '*') {
          min = 0;
          max = Infinity;
          i++;
        } else if (q === '+') {
          min = 1;
          max = Infinity;
          i++;
        } else if (q === '?') {
          min = 0;
          max = 1;
          i++;
        } else if (q === '{' && quantifierAt(i)) {
          const b = quantifierAt(i)!;
          if (b.max < b.min) fail('quantifier range out of order');
          if (b.min > MAX_REPEAT || (b.max !== Infinity && b.max > MAX_REPEAT)) fail(`repeat counts above ${MAX_REPEAT} are not supported`);
          min = b.min;
          max = b.max;
          i += b.len;
        } else break;
        if (node.t === 'bol' || node.t === 'eol') fail('nothing to repeat', i - 1);
        if (peek() === '?') i++; // lazy: same language for a full match
        node = { t: 'repeat', node, min, max };
      }
      items.push(node);
    }
    return { t: 'seq', items };
  };
  const parseAlt = (): PatternNode => {
    const options = [parseSeq()];
    while (peek() === '|') {
      i++;
      options.push(parseSeq());
    }
    return options.length === 1 ? options[0] : { t: 'alt', options };
  };
  const tree = parseAlt();
  if (i < cps.length) fail(peek() === ')' ? 'unmatched `)`' : `unexpected \`${peek()}\``);
  return tree;
}

/** The complement of sorted-or-not inclusive ranges over all code points. */
function complement(r: number[]): number[] {
  const pairs: [number, number][] = [];
  for (let k = 0; k < r.length; k += 2) pairs.push([r[k], r[k + 1]]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let next = 0;
  for (const [lo, hi] of pairs) {
    if (lo > next) out.push(next, lo - 1);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0x10ffff) out.push(next, 0x10ffff);
  return out;
}
