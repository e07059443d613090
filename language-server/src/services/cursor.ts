/**
 * Where the cursor is in a recipe: which key path, key or value position, and the partial word.
 * Works on half-typed documents by inserting a marker at the cursor and re-parsing.
 */
import { parseYaml } from '../../../recipe/parse';
import type { RNode, Span } from '../../../recipe/parse';

const MARK = 'LBXCURSORX';

export interface CursorContext {
  kind: 'key' | 'value';
  /** Path of the map holding the key (key position) or of the key whose value is typed. */
  path: string[];
  /** The word typed so far and its range. */
  partial: string;
  replace: Span;
  /** Keys already present in the enclosing map (key position). */
  siblings: string[];
}

/**
 * The cursor context at `offset`, or undefined inside a comment or unparsable text. A word after
 * `- ` is read as a key (a rule's first key) unless `listValue` asks for a list item value instead.
 */
export function cursorContext(text: string, offset: number, listValue = false): CursorContext | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const prefix = text.slice(lineStart, offset);
  if (/(^|\s)#/.test(prefix)) return undefined;
  const partial = /[^\s:{},[\]"']*$/.exec(prefix)![0];
  const before = prefix.slice(0, prefix.length - partial.length);
  const valuePos = /:\s*["']?$/.test(before) || /:\s*\[[^\]]*$/.test(before) || (listValue && /^\s*-\s+["']?$/.test(before));
  const rest = text.slice(offset);
  const insert = valuePos ? MARK : `${MARK}: 0`;
  // For a key typed before an existing value on the same line (rare) we just take the key position.
  const patched = text.slice(0, offset) + insert + rest;
  const parsed = parseYaml(patched.length > 2_000_000 ? text : patched);
  const found = locate(parsed.root, []);
  if (!found) return undefined;
  return { ...found, partial, replace: { start: offset - partial.length, end: offset } };
}

function locate(node: RNode | null, path: string[]): Omit<CursorContext, 'partial' | 'replace'> | undefined {
  if (!node) return undefined;
  if (node.kind === 'map') {
    for (const e of node.entries) {
      if (e.key.includes(MARK)) return { kind: 'key', path, siblings: node.entries.filter((x) => x !== e).map((x) => x.key) };
      if (e.value?.kind === 'scalar' && typeof e.value.value === 'string' && e.value.value.includes(MARK))
        return { kind: 'value', path: [...path, e.key], siblings: [] };
      const inner = locate(e.value, [...path, e.key]);
      if (inner) return inner;
    }
    return undefined;
  }
  if (node.kind === 'seq') {
    for (let i = 0; i < node.items.length; i++) {
      const it = node.items[i];
      if (it.kind === 'scalar' && typeof it.value === 'string' && it.value.includes(MARK)) return { kind: 'value', path, siblings: [] };
      const inner = locate(it, [...path, String(i)]);
      if (inner) return inner;
    }
    return undefined;
  }
  if (node.kind === 'scalar' && typeof node.value === 'string' && node.value.includes(MARK)) return { kind: 'value', path, siblings: [] };
  return undefined;
}
