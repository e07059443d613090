/**
 * Recipe file → JobPlan with 1-based file:line:column diagnostics (the CLI's and the engine's entry).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { JobPlan } from '../protocol/plan';
import type { LayerInfo, ModelSummary } from '../protocol/model';
import { readRecipe } from './checkRecipe';
import type { Recipe } from './checkRecipe';
import { resolvePlan } from './resolvePlan';
import type { RecipeDiagnostic, Severity } from './parse';
import { fileDiagnostics } from './validators/files';
import { lineColumnOf } from './positions';
import { recipeDiagnostics } from './resolvePlan';
import { jobPathProblems } from './jobPaths';
import { rotationDiagnostics } from './validators/validate';

/** A diagnostic as the CLI prints it. */
export interface FileDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  message: string;
}

/**
 * What the recipe checks need to know of a model, loaded by the caller (the server and the CLI pass
 * services/modelSource's cached `modelHost`; the recipe part imports no engine code itself).
 * `inputs` enables the `inputs:` checks and `externalFiles` the output-vs-external-data checks.
 */
export interface ModelHost {
  layers(modelPath: string): Promise<LayerInfo[]>;
  inputs?(modelPath: string): Promise<ModelSummary['inputs']>;
  externalFiles?(modelPath: string): Promise<{ files: string[]; error?: string }>;
  /** Whether `rotation: hadamard` can rotate the model (ModelSummary.rotation). */
  rotation?(modelPath: string): Promise<ModelSummary['rotation']>;
}

/** Convert offset diagnostics of `text` to 1-based file positions. */
export function toFileDiagnostics(file: string, text: string, diags: RecipeDiagnostic[]): FileDiagnostic[] {
  const at = lineColumnOf(text);
  return diags.map((d) => {
    const { line, column } = at(d.span.start);
    return { file, line, column, severity: d.severity, message: d.message };
  });
}

/**
 * Read, check and resolve a recipe. The plan is present only when there is no error.
 * `host` loads what the checks need of the model (see ModelHost). `openText` is the recipe's text as
 * an editor holds it (the language server's copy of an open document); without it the file is read.
 */
export async function loadRecipePlan(
  recipePath: string,
  host: ModelHost,
  openText?: string,
): Promise<{ plan?: JobPlan; diagnostics: FileDiagnostic[] }> {
  const abs = path.resolve(recipePath);
  let text: string;
  try {
    text = openText ?? (await fs.promises.readFile(abs, 'utf8'));
  } catch (e) {
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
      layers = await host.layers(modelPath);
      if (host.inputs) inputs = await host.inputs(modelPath);
      if (host.rotation) extra.push(...rotationDiagnostics(recipe, await host.rotation(modelPath)));
    } catch (e) {
      extra.push({
        span: modelField.span,
        severity: 'error',
        message: `Model could not be loaded: ${(e as Error).message}`,
        code: 'model-error',
      });
    }
  }
  const { plan, diagnostics } = layers
    ? resolvePlan(recipe, layers, abs, inputs)
    : { plan: undefined, diagnostics: [...recipe.diagnostics, ...recipeDiagnostics(recipe, abs)] };
  if (plan) extra.push(...(await outputPathDiagnostics(recipe, plan, host)));
  const all = [...diagnostics, ...fileDiags, ...extra].sort((a, b) => a.span.start - b.span.start);
  const hasError = all.some((d) => d.severity === 'error');
  return { plan: hasError ? undefined : plan, diagnostics: toFileDiagnostics(abs, text, all) };
}

/**
 * What `run` would refuse before writing, as diagnostics on the `output` line (the model's external
 * data on the `model` line): an output that is an input (model, its external data, tokenizer,
 * calibration/evaluation files, the recipe), a folder, a FIFO or other non-regular file, a path in
 * /proc; unsafe external data. The one source for `lowbit check` and the language server (issue 17).
 */
export async function outputPathDiagnostics(recipe: Recipe, plan: JobPlan, host: ModelHost): Promise<RecipeDiagnostic[]> {
  const modelField = recipe.values.model;
  if (!modelField) return [];
  const out: RecipeDiagnostic[] = [];
  let external: string[] = [];
  if (host.externalFiles) {
    const ext = await host.externalFiles(plan.modelPath).catch((e: Error) => ({ files: [] as string[], error: e.message }));
    if (ext.error)
      out.push({ span: modelField.span, severity: 'error', message: `Model external data is refused: ${ext.error}`, code: 'model-error' });
    external = ext.files;
  }
  const outSpan = recipe.values.output?.span ?? modelField.span;
  for (const message of jobPathProblems(plan, external))
    out.push({ span: outSpan, severity: 'error', message: `\`output\`: ${message}.`, code: 'output-path' });
  return out;
}
