/** Recipe diagnostics as LSP diagnostics (exact ranges; `code` and `data` feed the quick fixes). */
import { DiagnosticSeverity } from 'vscode-languageserver-types';
import type { Diagnostic } from 'vscode-languageserver-types';
import { validateRecipe } from '../../../recipe/validators/validate';
import { toRange } from './analysis';
import type { RecipeAnalysis } from './analysis';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { RecipeDiagnostic } from '../../../recipe/parse';
import { MAX_DIAGNOSTICS } from './checkDocument';

const SEVERITY = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
} as const;

/** A recipe diagnostic of `doc` as an LSP diagnostic. */
export function toLspDiagnostic(doc: TextDocument, d: RecipeDiagnostic): Diagnostic {
  return { range: toRange(doc, d.span), severity: SEVERITY[d.severity], message: d.message, source: 'lowbit', code: d.code, data: d.data };
}

/**
 * The document's diagnostics from its analysis (no output-path checks: the server publishes
 * services/checkDocument's, which add them); `exists` answers for absolute paths.
 */
export function diagnose(a: RecipeAnalysis, exists: (p: string) => boolean): Diagnostic[] {
  const ds = validateRecipe(a.recipe, a.recipePath, {
    exists,
    layers: a.layers,
    inputs: a.inputs,
    modelError: a.modelError,
    rotation: a.rotation,
  });
  return ds.slice(0, MAX_DIAGNOSTICS).map((d) => toLspDiagnostic(a.doc, d));
}
