/**
 * Hover: key docs from the schema, method docs on method values, how many and which layers a
 * `match` pattern selects, and a layer's shape / effective settings / size / last-run numbers.
 */
import { MarkupKind } from 'vscode-languageserver-types';
import type { Hover } from 'vscode-languageserver-types';
import { METHOD_INFO, FORMAT_DOCS } from '../../../recipe/schema';
import type { Method, ExportFormat } from '../../../protocol/plan';
import { matchLayers } from '../../../recipe/match';
import { defaultRule } from '../../../recipe/inputBinding';
import { fieldSchema } from './schemaPath';
import { fieldDoc } from './completion';
import { nodeAt } from './nodeAt';
import { layerMarkdown } from './layerDetails';
import { toRange } from './analysis';
import type { RecipeAnalysis } from './analysis';

/** Hover at `offset`, or null. */
export function hover(a: RecipeAnalysis, offset: number): Hover | null {
  const hit = nodeAt(a.recipe.parsed.root, offset);
  if (!hit?.entry) return null;
  const md = (value: string, span = hit.onKey ? hit.entry!.keySpan : (hit.node?.span ?? hit.entry!.span)): Hover => ({
    contents: { kind: MarkupKind.Markdown, value },
    range: toRange(a.doc, span),
  });
  const key = hit.entry.key;
  const f = fieldSchema(a.recipe, hit.path);
  if (hit.onKey && hit.path[0] === 'inputs' && hit.path.length === 2) {
    const input = a.inputs?.find((i) => i.name === key);
    if (!input) return md(a.inputs ? `\`${key}\` is not an input of the model.` : `Model input \`${key}\` (the model is not loaded).`);
    const rule = defaultRule(input, a.inputs!);
    return md(
      `Model input **${key}** — ${input.dtype} [${input.dims.join(', ')}]. The rule table binds it to ${rule ? `\`${rule}\`` : 'nothing'}; this entry overrides that.`,
    );
  }
  if (hit.onKey) {
    if (hit.path[0] === 'methods' && hit.path.length === 2 && key in METHOD_INFO) return md(METHOD_INFO[key as Method].doc);
    return f ? md(`**${key}** — ${fieldDoc(f)}`) : null;
  }
  const value = hit.node?.kind === 'scalar' ? String(hit.node.value) : undefined;
  if (value === undefined) return null;
  if (key === 'match' && hit.path[0] === 'layers') {
    if (!a.layers) return md(`Pattern \`${value}\` (the model is not loaded${a.modelError ? `: ${a.modelError}` : ''}).`);
    const exact = a.layers.find((l) => l.name === value);
    if (exact) return md(layerMarkdown(a.recipe, a.layers, value, a.report)!);
    const names = matchLayers(
      value,
      a.layers.filter((l) => l.quantizable).map((l) => l.name),
    );
    const shown = names
      .slice(0, 20)
      .map((n) => `- \`${n}\``)
      .join('\n');
    return md(
      `Pattern \`${value}\` matches **${names.length}** layer${names.length === 1 ? '' : 's'}${names.length ? `:\n\n${shown}${names.length > 20 ? `\n- … and ${names.length - 20} more` : ''}` : '.'}`,
    );
  }
  if (key === 'method' && value in METHOD_INFO) return md(METHOD_INFO[value as Method].doc);
  if (key === 'format' && value in FORMAT_DOCS) return md(FORMAT_DOCS[value as ExportFormat]);
  return f ? md(`**${key}** — ${fieldDoc(f)}`) : null;
}
