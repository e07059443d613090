/**
 * File checks: every path-valued key must name an existing file (or folder, for tensors/images).
 * The file system is behind `exists` so services stay testable without a disk.
 */
import type { Recipe } from '../recipe/checkRecipe';
import type { RecipeDiagnostic } from '../recipe/parse';
import { resolvedPaths } from '../recipe/resolvePlan';

/** Keys whose paths are written, not read. */
const OUTPUT_KEYS = new Set(['output']);

/** Diagnostics for missing input files; `exists` answers for absolute paths. */
export function fileDiagnostics(recipe: Recipe, recipePath: string, exists: (absPath: string) => boolean): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  for (const { key, field, path } of resolvedPaths(recipe, recipePath)) {
    if (OUTPUT_KEYS.has(key)) continue;
    if (!exists(path)) out.push({ span: field.span, severity: 'error', message: `\`${key}\`: file not found: ${path}`, code: 'missing-file', data: { path } });
  }
  return out;
}
