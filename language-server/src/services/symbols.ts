/** Document symbols: top-level sections, their keys, and each rule named by its pattern. */
import { SymbolKind } from 'vscode-languageserver-types';
import type { DocumentSymbol } from 'vscode-languageserver-types';
import type { RNode } from '../../../recipe/parse';
import { toRange } from './analysis';
import type { RecipeAnalysis } from './analysis';

/** The symbol tree of the recipe (two levels deep, rules by their `match`). */
export function documentSymbols(a: RecipeAnalysis): DocumentSymbol[] {
  const root = a.recipe.parsed.root;
  if (root?.kind !== 'map') return [];
  const sym = (
    name: string,
    kind: SymbolKind,
    node: { start: number; end: number },
    sel: { start: number; end: number },
    children?: DocumentSymbol[],
    detail?: string,
  ): DocumentSymbol => ({
    name: name || '(empty)',
    kind,
    range: toRange(a.doc, node),
    selectionRange: toRange(a.doc, sel),
    children,
    detail,
  });
  const leaf = (v: RNode | null) => (v?.kind === 'scalar' ? String(v.value ?? '') : undefined);
  return root.entries.map((e) => {
    let children: DocumentSymbol[] | undefined;
    if (e.key === 'layers' && e.value?.kind === 'seq') {
      children = e.value.items.map((it, i) => {
        const m = it.kind === 'map' ? it.entries.find((x) => x.key === 'match') : undefined;
        return sym(`rule ${i + 1}: ${leaf(m?.value ?? null) ?? '?'}`, SymbolKind.Object, it.span, m?.value?.span ?? it.span);
      });
    } else if (e.value?.kind === 'map') {
      children = e.value.entries.map((c) => sym(c.key, SymbolKind.Property, c.span, c.keySpan, undefined, leaf(c.value)));
    }
    return sym(
      e.key,
      e.value?.kind === 'map' || e.value?.kind === 'seq' ? SymbolKind.Namespace : SymbolKind.Property,
      e.span,
      e.keySpan,
      children,
      leaf(e.value),
    );
  });
}
