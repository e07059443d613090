/**
 * Quick fixes for recipe diagnostics: did-you-mean renames, removing a dead rule, switching
 * unsupported bits / format / group size to a storable value.
 */
import { CodeActionKind } from 'vscode-languageserver-types';
import type { CodeAction, Diagnostic, TextEdit } from 'vscode-languageserver-types';
import type { RecipeAnalysis } from './analysis';
import { toRange } from './analysis';

/** Quick fixes for the diagnostics the client sends back (they carry our `code` and `data`). */
export function codeActions(a: RecipeAnalysis, diagnostics: Diagnostic[]): CodeAction[] {
  const out: CodeAction[] = [];
  const uri = a.doc.uri;
  const fix = (title: string, d: Diagnostic, edits: TextEdit[], preferred = true): void => {
    out.push({ title, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: preferred, edit: { changes: { [uri]: edits } } });
  };
  for (const d of diagnostics) {
    const data = (d.data ?? {}) as Record<string, unknown>;
    switch (d.code) {
      case 'unknown-key':
      case 'bad-enum':
        if (typeof data.replacement === 'string')
          fix(`Change to '${data.replacement}'`, d, [{ range: d.range, newText: data.replacement }]);
        break;
      case 'dead-rule':
      case 'no-match': {
        const rule = a.recipe.rules[Number(data.rule)];
        if (!rule) break;
        const text = a.doc.getText();
        const start = text.lastIndexOf('\n', rule.span.start - 1) + 1;
        let end = text.indexOf('\n', Math.max(rule.span.end - 1, rule.span.start));
        end = end < 0 ? text.length : end + 1;
        const s = a.doc.positionAt(start);
        const e = a.doc.positionAt(end);
        fix(`Remove rule ${Number(data.rule) + 1}`, d, [{ range: { start: s, end: e }, newText: '' }], d.code === 'dead-rule');
        break;
      }
      case 'unsupported-bits':
        if (typeof data.bits === 'number') fix(`Use ${data.bits} bits`, d, [{ range: d.range, newText: String(data.bits) }]);
        out.push(...formatFix(a, d, 'packed'), ...formatFix(a, d, 'fake'));
        break;
      case 'unsupported-format':
        if (typeof data.format === 'string') out.push(...formatFix(a, d, data.format));
        break;
      case 'bad-group':
        if (typeof data.group_size === 'number')
          fix(`Use group size ${data.group_size}`, d, [{ range: d.range, newText: String(data.group_size) }]);
        break;
    }
  }
  return out;
}

function formatFix(a: RecipeAnalysis, d: Diagnostic, format: string): CodeAction[] {
  const f = a.recipe.values.format;
  const edit: TextEdit = f
    ? { range: toRange(a.doc, f.span), newText: format }
    : { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: `format: ${format}\n` };
  return [
    { title: `Switch format to ${format}`, kind: CodeActionKind.QuickFix, diagnostics: [d], edit: { changes: { [a.doc.uri]: [edit] } } },
  ];
}
