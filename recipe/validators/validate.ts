/**
 * All recipe checks in one call: syntax and schema (from readRecipe), recipe-level rules, missing
 * files and, when the model's layers are known, the model-dependent checks.
 */
import type { LayerInfo, ModelSummary } from '../../protocol/model';
import type { Recipe } from '../checkRecipe';
import type { RecipeDiagnostic } from '../parse';
import { recipeDiagnostics, modelDiagnostics, inputDiagnostics } from '../resolvePlan';
import { fileDiagnostics } from './files';

export interface ValidationHost {
  exists(absPath: string): boolean;
  /** The model's layers, or undefined when the model is not (yet) loaded. */
  layers?: readonly LayerInfo[];
  /** The model's graph inputs (the `inputs:` checks), when the model is loaded. */
  inputs?: ModelSummary['inputs'];
  /** Why the model could not be loaded (reported on the `model` value). */
  modelError?: string;
  /** Whether the model can be rotated (`rotation: hadamard`), when the model is loaded. */
  rotation?: ModelSummary['rotation'];
}

/** `rotation: hadamard` on a model whose residual stream cannot be rotated: an error on `rotation.method` naming the node. */
export function rotationDiagnostics(recipe: Recipe, rotation: ModelSummary['rotation']): RecipeDiagnostic[] {
  const method = recipe.values['rotation.method'];
  if (!method || method.value !== 'hadamard' || !rotation || !('problem' in rotation)) return [];
  return [
    {
      span: method.span,
      severity: 'error',
      message: `\`rotation: hadamard\` cannot rotate this model: ${rotation.problem}.`,
      code: 'rotation-unsupported',
    },
  ];
}

/** Every diagnostic for a recipe, sorted by position. */
export function validateRecipe(recipe: Recipe, recipePath: string, host: ValidationHost): RecipeDiagnostic[] {
  const out = [...recipe.diagnostics, ...recipeDiagnostics(recipe, recipePath), ...fileDiagnostics(recipe, recipePath, host.exists)];
  if (host.layers) out.push(...modelDiagnostics(recipe, host.layers));
  out.push(...rotationDiagnostics(recipe, host.rotation));
  if (host.inputs) out.push(...inputDiagnostics(recipe, host.inputs, host.layers));
  else if (
    host.modelError &&
    recipe.values.model &&
    !out.some((d) => d.code === 'missing-file' && d.span.start === recipe.values.model!.span.start)
  ) {
    out.push({
      span: recipe.values.model.span,
      severity: 'error',
      message: `Model could not be loaded: ${host.modelError}`,
      code: 'model-error',
    });
  }
  return out.sort((a, b) => a.span.start - b.span.start);
}
