/**
 * Recipe file → JobPlan with 1-based file:line:column diagnostics (the CLI's and the engine's entry).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobPlan } from '../protocol/plan';
import type { LayerInfo, ModelSummary } from '../protocol/model';
import { readRecipe } from './recipe';
import { resolvePlan } from './plan';
import type { RecipeDiagnostic, Severity } from './parse';
import { fileDiagnostics } from '../validators/files';
import { lineColumn } from './positions';
import { loadLayers, loadInputs } from '../services/modelSource';
import { recipeDiagnostics } from './plan';

/** A diagnostic as the CLI prints it. */
export interface FileDiagnostic { file: string; line: number; column: number; severity: Severity; message: string }

/** Loads a model's layers (the ONNX engine's loadModel, cached by path + mtime). */
export type LayerLoader = (modelPath: string) => Promise<LayerInfo[]>;

/** Convert offset diagnostics of `text` to 1-based file positions. */
export function toFileDiagnostics(file: string, text: string, diags: RecipeDiagnostic[]): FileDiagnostic[] {
  return diags.map((d) => ({ file, ...lineColumn(text, d.span.start), severity: d.severity, message: d.message }));
}

/**
 * Read, check and resolve a recipe. The plan is present only when there is no error.
 * `loader` defaults to the engine's model loader.
 */
export async function loadRecipePlan(recipePath: string, loader?: LayerLoader): Promise<{ plan?: JobPlan; diagnostics: FileDiagnostic[] }> {
  const abs = path.resolve(recipePath);
  let text: string;
  try { text = await fs.promises.readFile(abs, 'utf8'); } catch (e) {
    return { diagnostics: [{ file: abs, line: 1, column: 1, severity: 'error', message: `Cannot read recipe: ${(e as Error).message}` }] };
  }
  const recipe = readRecipe(text);
  const fileDiags = fileDiagnostics(recipe, abs, (p) => fs.existsSync(p));
  let layers: LayerInfo[] | undefined;
  let inputs: ModelSummary['inputs'] | undefined;
  const modelField = recipe.values.model;
  const modelPath = modelField ? path.resolve(path.dirname(abs), String(modelField.value)) : undefined;
  const extra: RecipeDiagnostic[] = [];
  if (modelPath && modelField && fs.existsSync(modelPath)) {
    try {
      layers = await (loader ?? loadLayers)(modelPath);
      if (!loader) inputs = await loadInputs(modelPath);
    } catch (e) {
      extra.push({ span: modelField.span, severity: 'error', message: `Model could not be loaded: ${(e as Error).message}`, code: 'model-error' });
    }
  }
  const { plan, diagnostics } = layers ? resolvePlan(recipe, layers, abs, inputs) : { plan: undefined, diagnostics: [...recipe.diagnostics, ...recipeDiagnostics(recipe, abs)] };
  const all = [...diagnostics, ...fileDiags, ...extra].sort((a, b) => a.span.start - b.span.start);
  const hasError = all.some((d) => d.severity === 'error');
  return { plan: hasError ? undefined : plan, diagnostics: toFileDiagnostics(abs, text, all) };
}
