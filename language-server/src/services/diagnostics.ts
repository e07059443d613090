/** Recipe diagnostics as LSP diagnostics (exact ranges; `code` and `data` feed the quick fixes). */
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import type { Diagnostic } from 'vscode-languageserver-types';
import { validateRecipe } from '../../../recipe/validators/validate';
import { toRange } from './analysis';
import type { RecipeAnalysis } from './analysis';

const SEVERITY = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
} as const;

/** All diagnostics for the document; `exists` answers for absolute paths. */
export function diagnose(a: RecipeAnalysis, exists: (p: string) => boolean): Diagnostic[] {
  const ds = validateRecipe(a.recipe, a.recipePath, {
    exists,
    layers: a.layers,
    inputs: a.inputs,
    modelError: a.modelError,
    rotation: a.rotation,
  });
  return ds.slice(0, 500).map((d) => ({
    range: toRange(a.doc, d.span),
    severity: SEVERITY[d.severity],
    message: d.message,
    source: 'lowbit',
    code: d.code,
    data: d.data,
  }));
}
