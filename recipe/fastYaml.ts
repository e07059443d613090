/**
 * A fast path for the YAML that recipes are made of: block maps and sequences, one-line flow maps and
 * lists, plain and simple quoted scalars, comments. It builds the same span tree as parse.ts's path
 * through the `yaml` package (checked by test/unit/recipe/fastYaml.test.ts against it), in one linear
 * pass, and gives up (returns undefined) on anything else — anchors, tags, block scalars, multi-line
 * scalars, escapes, duplicate keys, tabs, CR, directives — which then goes through `yaml`, errors and all.
 * Issue 17: a 2 MB recipe of 54k rules took seconds in `yaml`'s general parser.
 */
import type { RNode, REntry } from './yamlTree';

/** Thrown inside the fast path when the text leaves the supported subset. */
class Unsupported extends Error {}
const no = (): never => {
  throw new Unsupported();
};

const KEY = /[A-Za-z_][A-Za-z0-9_./-]*/y;
const KEYWORDS = new Set(['null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', '~']);
const INT = /^[-+]?[0-9]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const OCT = /^0o[0-7]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const SPECIAL = /^[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)$/;

/** A plain scalar's value under the YAML 1.2 core schema (what `yaml` resolves it to). */
function plainValue(s: string): string | number | boolean | null {
  if (s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL') return null;
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  const c = s.charCodeAt(0);
  // Only text that starts like a number can be one; everything else is a string.
  if (!(c >= 48 && c <= 57) && c !== 43 && c !== 45 && c !== 46) return s;
  if (OCT.test(s)) return parseInt(s.substring(2), 8);
  if (INT.test(s)) return parseInt(s, 10);
  if (HEX.test(s)) return parseInt(s.substring(2), 16);
  if (FLOAT.test(s)) return parseFloat(s);
  if (SPECIAL.test(s)) no();
  return s;
}

interface Limits {
  maxDepth: number;
  maxNodes: number;
}

/** The span tree of `text` when it is in the subset; undefined when `yaml` must read it. */
export function parseRecipeSubset(text: string, limits: Limits): RNode | undefined {
  if (/[\t\r\uFEFF]|^(?:---|\.\.\.|%)/m.test(text)) return undefined;
  try {
    return new SubsetParser(text, limits).document();
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

class SubsetParser {
  /** Start of each line, and its first non-space character (or -1 for blank/comment lines). */
  private readonly starts: number[] = [];
  private readonly firsts: number[] = [];
  private line = 0;
  private nodes = 0;
  /** The index just after the last quoted scalar or flow collection read. */
  private after = 0;
  /** Where the last inline value's line content ends (its trailing comment included, as `yaml` ends collections). */
  private contentEnd = 0;

  constructor(
    private readonly t: string,
    private readonly limits: Limits,
  ) {
    let s = 0;
    while (s <= t.length) {
      let e = t.indexOf('\n', s);
      if (e < 0) e = t.length;
      let f = s;
      while (f < e && t.charCodeAt(f) === 32) f++;
      this.starts.push(s);
      this.firsts.push(f === e || t.charCodeAt(f) === 35 ? -1 : f);
      s = e + 1;
    }
  }

  document(): RNode | undefined {
    this.skipBlank();
    if (this.line >= this.starts.length) return undefined; // empty: `yaml` says what is missing
    const root = this.block(0);
    this.skipBlank();
    if (this.line < this.starts.length) no();
    return root;
  }

  private count(depth: number): void {
    if (++this.nodes > this.limits.maxNodes || depth > this.limits.maxDepth) no();
  }

  private skipBlank(): void {
    while (this.line < this.starts.length && this.firsts[this.line] < 0) this.line++;
  }

  private indentOf(line: number): number {
    return this.firsts[line] - this.starts[line];
  }

  private lineEnd(line: number): number {
    const next = line + 1 < this.starts.length ? this.starts[line + 1] - 1 : this.t.length;
    return next;
  }

  /** A block node starting at the current line's first character. */
  private block(depth: number): RNode {
    const at = this.firsts[this.line];
    if (this.t.charCodeAt(at) === 45 && this.isDash(at)) return this.sequence(at, depth);
    return this.map(at, depth);
  }

  private isDash(at: number): boolean {
    const n = this.t.charCodeAt(at + 1);
    return n === 32 || n === 10 || Number.isNaN(n);
  }

  private sequence(at: number, depth: number): RNode {
    this.count(depth);
    const column = at - this.starts[this.line];
    const items: RNode[] = [];
    let end = at;
    while (this.line < this.starts.length) {
      const f = this.firsts[this.line];
      if (f - this.starts[this.line] !== column || this.t.charCodeAt(f) !== 45 || !this.isDash(f)) break;
      let p = f + 1;
      while (this.t.charCodeAt(p) === 32) p++;
      const e = this.lineEnd(this.line);
      if (p >= e || this.t.charCodeAt(p) === 35) no(); // `-` alone: a nested block item
      const item = this.inlineOrMap(p, e, depth + 1);
      items.push(item);
      end = this.contentEnd;
      this.skipBlank();
      if (this.line < this.starts.length && this.indentOf(this.line) > column) no();
    }
    return { kind: 'seq', span: { start: at, end }, items };
  }

  /** A sequence item's content: a map starting on this line, or a scalar / flow collection. */
  private inlineOrMap(p: number, e: number, depth: number): RNode {
    if (this.keyAt(p) !== undefined) {
      // Continue the map on the following lines at the key's column.
      return this.map(p, depth);
    }
    const node = this.inlineValue(p, e, depth);
    this.line++;
    return node;
  }

  /** The key at p when the line continues with `key:` then space/end; else undefined. */
  private keyAt(p: number): string | undefined {
    KEY.lastIndex = p;
    const m = KEY.exec(this.t);
    if (!m) return undefined;
    const k = p + m[0].length;
    if (this.t.charCodeAt(k) !== 58) return undefined;
    const n = this.t.charCodeAt(k + 1);
    if (!(n === 32 || n === 10 || Number.isNaN(n))) return undefined;
    if (KEYWORDS.has(m[0])) no();
    return m[0];
  }

  /** A block map whose first key starts at `at` (on the current line). */
  private map(at: number, depth: number): RNode {
    this.count(depth);
    const column = at - this.starts[this.line];
    const entries: REntry[] = [];
    const seen = new Set<string>();
    let p = at;
    let end = at;
    for (;;) {
      const key = this.keyAt(p);
      if (key === undefined || seen.has(key)) no();
      seen.add(key!);
      const keySpan = { start: p, end: p + key!.length };
      const e = this.lineEnd(this.line);
      let v = keySpan.end + 1;
      while (this.t.charCodeAt(v) === 32) v++;
      let value: RNode;
      if (v >= e || this.t.charCodeAt(v) === 35) {
        const comment = v < e;
        this.line++;
        this.skipBlank();
        const next = this.line < this.starts.length ? this.firsts[this.line] : -1;
        const ind = next >= 0 ? next - this.starts[this.line] : -1;
        if (next >= 0 && (ind > column || (ind === column && this.t.charCodeAt(next) === 45 && this.isDash(next)))) {
          value = this.block(depth + 1);
        } else {
          if (comment || v !== keySpan.end + 1) no(); // `key:` with trailing spaces or a comment: let `yaml` place it
          this.count(depth + 1);
          value = { kind: 'scalar', span: { start: v, end: v }, value: null, source: '', quoted: false };
          this.contentEnd = v;
        }
      } else {
        value = this.inlineValue(v, e, depth + 1);
        this.line++;
        this.skipBlank();
        if (this.line < this.starts.length && this.indentOf(this.line) > column) no(); // a multi-line scalar
      }
      entries.push({ key: key!, keySpan, value, span: { start: keySpan.start, end: Math.max(value.span.end, keySpan.end) } });
      end = this.contentEnd;
      if (this.line >= this.starts.length || this.indentOf(this.line) !== column) break;
      p = this.firsts[this.line];
      if (this.t.charCodeAt(p) === 45 && this.isDash(p)) break; // the parent's sequence at the same column
    }
    return { kind: 'map', span: { start: at, end }, entries };
  }

  /** A scalar or one-line flow collection from p; the rest of the line may only be a comment. */
  private inlineValue(p: number, e: number, depth: number): RNode {
    const c = this.t.charCodeAt(p);
    let node: RNode;
    let q: number;
    if (c === 123 || c === 91) {
      node = this.flow(p, e, depth);
      q = this.after;
    } else if (c === 34 || c === 39) {
      node = this.quoted(p, e, depth);
      q = this.after;
    } else {
      // Plain: up to ` #` or the end of the line.
      let stop = p;
      while (stop < e && !(this.t.charCodeAt(stop) === 35 && this.t.charCodeAt(stop - 1) === 32)) stop++;
      let end = stop;
      while (end > p && this.t.charCodeAt(end - 1) === 32) end--;
      node = this.plain(p, end, false, depth);
      q = stop;
    }
    while (q < e && this.t.charCodeAt(q) === 32) q++;
    if (q < e && this.t.charCodeAt(q) !== 35) no();
    if (q < e && this.t.charCodeAt(q - 1) !== 32) no(); // `#` glued to a value is not a comment
    let end = e;
    while (end > q && this.t.charCodeAt(end - 1) === 32) end--;
    this.contentEnd = q < e ? end : node.span.end;
    return node;
  }

  private plain(p: number, end: number, flow: boolean, depth: number): RNode {
    const s = this.t.slice(p, end);
    if (!s || /^[-?:,[\]{}#&*!|>'"%@`]/.test(s)) {
      if (!/^-[0-9.]/.test(s)) no();
    }
    if (s.includes(': ') || s.endsWith(':') || (flow && /[,[\]{}]/.test(s))) no();
    this.count(depth);
    return { kind: 'scalar', span: { start: p, end }, value: plainValue(s), source: s, quoted: false };
  }

  /** A quoted scalar without escapes (`\` in "…", `''` in '…'); returns it and the index after it. */
  private quoted(p: number, e: number, depth: number): RNode {
    const quote = this.t[p];
    const close = this.t.indexOf(quote, p + 1);
    if (close < 0 || close >= e) no();
    const s = this.t.slice(p + 1, close);
    if ((quote === '"' && s.includes('\\')) || (quote === "'" && this.t[close + 1] === "'")) no();
    this.count(depth);
    this.after = close + 1;
    return { kind: 'scalar', span: { start: p, end: close + 1 }, value: s, source: s, quoted: true };
  }

  /** `{k: v, …}` or `[v, …]` on one line; returns it and the index after the closing bracket. */
  private flow(p: number, e: number, depth: number): RNode {
    this.count(depth);
    const isMap = this.t.charCodeAt(p) === 123;
    const closeCh = isMap ? 125 : 93;
    const entries: REntry[] = [];
    const items: RNode[] = [];
    const t = this.t;
    let q = p + 1;
    while (q < e && t.charCodeAt(q) === 32) q++;
    while (q < e && this.t.charCodeAt(q) !== closeCh) {
      let key: string | undefined;
      let keySpan = { start: q, end: q };
      if (isMap) {
        KEY.lastIndex = q;
        const m = KEY.exec(this.t);
        if (!m || KEYWORDS.has(m[0]) || entries.some((x) => x.key === m[0])) no();
        key = m![0];
        keySpan = { start: q, end: q + key.length };
        q = keySpan.end;
        while (q < e && t.charCodeAt(q) === 32) q++;
        if (t.charCodeAt(q) !== 58 || t.charCodeAt(q + 1) !== 32) no();
        q += 2;
        while (q < e && t.charCodeAt(q) === 32) q++;
      }
      const c = this.t.charCodeAt(q);
      let value: RNode;
      if (c === 123 || c === 91) {
        value = this.flow(q, e, depth + 1);
        q = this.after;
      } else if (c === 34 || c === 39) {
        value = this.quoted(q, e, depth + 1);
        q = this.after;
      } else {
        let stop = q;
        for (let ch = t.charCodeAt(stop); stop < e && ch !== 44 && ch !== 93 && ch !== 125; ch = t.charCodeAt(++stop))
          if (ch === 35 && t.charCodeAt(stop - 1) === 32) no(); // a comment inside a flow collection
        let end = stop;
        while (end > q && t.charCodeAt(end - 1) === 32) end--;
        value = this.plain(q, end, true, depth + 1);
        q = end;
      }
      if (isMap) entries.push({ key: key!, keySpan, value, span: { start: keySpan.start, end: Math.max(value.span.end, keySpan.end) } });
      else items.push(value);
      while (q < e && t.charCodeAt(q) === 32) q++;
      const d = t.charCodeAt(q);
      if (d === 44) {
        q++;
        while (q < e && t.charCodeAt(q) === 32) q++;
        if (t.charCodeAt(q) === 44) no();
      } else if (d !== closeCh) no();
    }
    if (q >= e) no();
    const span = { start: p, end: q + 1 };
    this.after = q + 1;
    return isMap ? { kind: 'map', span, entries } : { kind: 'seq', span, items };
  }
}
