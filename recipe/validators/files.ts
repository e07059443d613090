/**
 * File checks: every path-valued key must name an existing file (or folder, for tensors/images).
 * The file system is behind `exists` so services stay testable without a disk.
 */
import type { Recipe } from '../checkRecipe';
import type { RecipeDiagnostic } from '../parse';
import { resolvedPaths } from '../resolvePlan';

/** Keys whose paths are written, not read. */
const OUTPUT_KEYS = new Set(['output']);

/** Diagnostics for missing input files; `exists` answers for absolute paths. */
export function fileDiagnostics(recipe: Recipe, recipePath: string, exists: (absPath: string) => boolean): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  for (const { key, field, path } of resolvedPaths(recipe, recipePath)) {
    if (OUTPUT_KEYS.has(key)) continue;
    if (!exists(path))
      out.push({
        span: field.span,
        severity: 'error',
        message: `\`${key}\`: file not found: ${path}`,
        code: 'missing-file',
        data: { path },
      });
  }
  return out;
}
