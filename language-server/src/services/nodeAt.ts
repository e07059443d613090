/** Find the key or value under an offset in the parsed recipe tree, with its key path. */
import type { RNode, REntry } from '../../../recipe/parse';

export interface NodeHit {
  path: string[];
  entry?: REntry;
  onKey: boolean;
  node?: RNode;
}

/** The innermost entry whose key or scalar value contains `offset`. */
export function nodeAt(root: RNode | null, offset: number, path: string[] = []): NodeHit | undefined {
  if (!root) return undefined;
  const inside = (s: { start: number; end: number }) => offset >= s.start && offset <= s.end;
  if (root.kind === 'map') {
    for (const e of root.entries) {
      if (inside(e.keySpan)) return { path: [...path, e.key], entry: e, onKey: true };
      if (e.value && inside(e.value.span)) {
        if (e.value.kind === 'scalar') return { path: [...path, e.key], entry: e, onKey: false, node: e.value };
        return nodeAt(e.value, offset, [...path, e.key]) ?? { path: [...path, e.key], entry: e, onKey: false, node: e.value };
      }
    }
  } else if (root.kind === 'seq') {
    for (let i = 0; i < root.items.length; i++) {
      const it = root.items[i];
      if (inside(it.span)) return it.kind === 'scalar' ? { path, onKey: false, node: it } : nodeAt(it, offset, [...path, String(i)]);
    }
  }
  return undefined;
}
