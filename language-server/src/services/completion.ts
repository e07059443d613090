/**
 * Completion: keys valid at the cursor, enum values, method settings for the chosen method,
 * file paths, and layer names / glob patterns from the model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompletionItemKind, MarkupKind } from 'vscode-languageserver-types';
import type { CompletionItem, Range } from 'vscode-languageserver-types';
import type { FieldSchema } from '../../../recipe/schema';
import { describeType } from '../../../recipe/schema';
import { matchLayers } from '../../../recipe/match';
import { defaultRule } from '../../../recipe/inputBinding';
import { cursorContext, type CursorContext } from './cursor';
import { fieldsAt, fieldSchema } from './schemaPath';
import { toRange } from './analysis';
import type { RecipeAnalysis } from './analysis';

const MAX_ITEMS = 1000;

/** Completion items at `offset`. */
export function complete(a: RecipeAnalysis, offset: number): CompletionItem[] {
  const ctx = cursorContext(a.doc.getText(), offset);
  if (!ctx) return [];
  const range = toRange(a.doc, ctx.replace);
  if (ctx.kind === 'key' && ctx.path[0] === 'inputs' && ctx.path.length === 1) return inputNameItems(a, ctx.siblings, range);
  if (ctx.kind === 'key') {
    const fields = fieldsAt(a.recipe, ctx.path);
    if (!fields) {
      // `- word` in a list of scalars (e.g. under `metrics:`) is a value, not a rule's first key.
      const item = cursorContext(a.doc.getText(), offset, true);
      return item?.kind === 'value' ? valueAt(a, item, toRange(a.doc, item.replace)) : [];
    }
    return Object.entries(fields)
      .filter(([k]) => !ctx.siblings.includes(k))
      .map(([k, f], i) => ({
        label: k,
        kind: CompletionItemKind.Property,
        detail: describeType(f),
        documentation: { kind: MarkupKind.Markdown, value: fieldDoc(f) },
        textEdit: {
          range,
          newText: f.kind === 'object' || f.kind === 'methodSettings' || f.kind === 'settings' || f.kind === 'rules' ? `${k}:` : `${k}: `,
        },
        sortText: `${f.required ? 0 : 1}${String(i).padStart(3, '0')}`,
      }));
  }
  return valueAt(a, ctx, range);
}

/** The model's graph inputs under `inputs:`, each with the rule the table would bind. */
function inputNameItems(a: RecipeAnalysis, siblings: readonly string[], range: Range): CompletionItem[] {
  const inputs = a.inputs ?? [];
  return inputs
    .filter((i) => !siblings.includes(i.name))
    .map((i, k) => {
      const rule = defaultRule(i, inputs);
      return {
        label: i.name,
        kind: CompletionItemKind.Field,
        detail: `${i.dtype} [${i.dims.join(', ')}]`,
        documentation: {
          kind: MarkupKind.Markdown,
          value: `Model input \`${i.name}\` (${i.dtype} [${i.dims.join(', ')}]). ${rule ? `Bound by default to \`${rule}\`.` : '**No rule binds it**: set a rule or a constant.'}`,
        },
        textEdit: { range, newText: `${i.name}: ${rule ?? ''}` },
        sortText: String(k).padStart(4, '0'),
      };
    });
}

/** Value completion for a value-position context. */
function valueAt(a: RecipeAnalysis, ctx: CursorContext, range: Range): CompletionItem[] {
  const key = ctx.path[ctx.path.length - 1];
  const inList = /^\d+$/.test(key ?? '');
  const f = fieldSchema(a.recipe, inList ? ctx.path.slice(0, -1) : ctx.path);
  if (!f) return [];
  if (key === 'match' && ctx.path[0] === 'layers') {
    const quoted = /["']/.test(a.doc.getText().charAt(ctx.replace.start - 1));
    return layerItems(a, quoted, range);
  }
  return valueItems(a, f, ctx.partial, range);
}

/** Markdown for a field: its doc, type and default. */
export function fieldDoc(f: FieldSchema): string {
  const def = 'default' in f && f.default !== undefined ? `\n\nDefault: \`${JSON.stringify(f.default)}\`` : '';
  return `${f.doc}\n\n*${describeType(f)}*${def}`;
}

function valueItems(a: RecipeAnalysis, f: FieldSchema, partial: string, range: Range): CompletionItem[] {
  switch (f.kind) {
    case 'enum':
    case 'enumList':
      return f.values.map((v) => ({
        label: v,
        kind: CompletionItemKind.EnumMember,
        textEdit: { range, newText: v },
        documentation: f.kind === 'enum' && f.valueDocs?.[v] ? { kind: MarkupKind.Markdown, value: f.valueDocs[v] } : undefined,
      }));
    case 'sparsity':
      return ['0.5', ...f.patterns.map((p) => `"${p}"`)].map((v) => ({
        label: v,
        kind: CompletionItemKind.Value,
        textEdit: { range, newText: v },
      }));
    case 'boolean':
      return ['true', 'false'].map((v) => ({ label: v, kind: CompletionItemKind.Value, textEdit: { range, newText: v } }));
    case 'number': {
      const vals = f.allowed ?? (f.default !== undefined ? [f.default] : []);
      return vals.map((v) => ({
        label: String(v),
        kind: CompletionItemKind.Value,
        textEdit: { range, newText: String(v) },
        detail: v === f.default ? 'default' : undefined,
      }));
    }
    case 'string':
      return f.path
        ? pathItems(a, partial, range)
        : (f.examples ?? []).map((e) => ({ label: e, kind: CompletionItemKind.Value, textEdit: { range, newText: e } }));
    default:
      return [];
  }
}

/** Files and folders under the directory the partial path names (relative to the recipe). */
function pathItems(a: RecipeAnalysis, partial: string, range: Range): CompletionItem[] {
  const base = path.dirname(a.recipePath);
  const slash = partial.lastIndexOf('/');
  const dirPart = slash >= 0 ? partial.slice(0, slash + 1) : '';
  let names: fs.Dirent[] = [];
  try {
    names = fs.readdirSync(path.resolve(base, dirPart || '.'), { withFileTypes: true });
  } catch {
    return [];
  }
  return names
    .filter((d) => !d.name.startsWith('.'))
    .slice(0, MAX_ITEMS)
    .map((d) => ({
      label: d.isDirectory() ? `${d.name}/` : d.name,
      kind: d.isDirectory() ? CompletionItemKind.Folder : CompletionItemKind.File,
      textEdit: { range, newText: `${dirPart}${d.name}${d.isDirectory() ? '/' : ''}` },
      command: d.isDirectory() ? { title: 'next', command: 'editor.action.triggerSuggest' } : undefined,
    }));
}

/** Glob patterns that generalize layer names (numbers → `*`), most general first. */
export function suggestPatterns(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    const star = n.replace(/(^|[._/])\d+(?=[._/]|$)/g, '$1*');
    if (star !== n) out.add(star);
    const last = n.split(/[._/]/).pop();
    if (last && last !== n) out.add(`*${n.slice(n.length - last.length - 1)}`);
  }
  return [...out].filter((p) => matchLayers(p, names).length > 1).sort();
}

function layerItems(a: RecipeAnalysis, quoted: boolean, range: Range): CompletionItem[] {
  const layers = (a.layers ?? []).filter((l) => l.quantizable);
  const names = layers.map((l) => l.name);
  const items: CompletionItem[] = layers.slice(0, MAX_ITEMS).map((l, i) => ({
    label: l.name,
    kind: CompletionItemKind.Field,
    detail: `${l.op} [${l.shape.join('×')}] · ${l.params.toLocaleString('en-US')} params${l.embedding ? ' · embedding table (opt-in)' : ''}${l.tiedWith ? ` · tied with ${l.tiedWith}` : ''}`,
    textEdit: { range, newText: l.name },
    sortText: `1${String(i).padStart(5, '0')}`,
  }));
  for (const p of suggestPatterns(names).slice(0, 200)) {
    const n = matchLayers(p, names).length;
    items.push({
      label: p,
      kind: CompletionItemKind.Snippet,
      detail: `glob · matches ${n} layers`,
      textEdit: { range, newText: !quoted && /^[*{[?]/.test(p) ? `"${p}"` : p },
      filterText: p,
      sortText: `0${p}`,
    });
  }
  return items;
}
