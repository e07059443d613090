/**
 * The server's whole check of one recipe text, as offset diagnostics: syntax, schema, files, the
 * model-dependent checks and — once the recipe resolves to a plan — the output-path problems that
 * `lowbit check` and `run` refuse (recipe/load.ts's outputPathDiagnostics, the one source for both).
 * Pure of the LSP connection, so it runs in the check worker (handlers/checkWorker.ts) or in-thread.
 */
import * as path from 'node:path';
import type { LayerInfo, ModelSummary } from '../../../protocol/model';
import { readRecipe } from '../../../recipe/checkRecipe';
import type { RecipeDiagnostic } from '../../../recipe/parse';
import { outputPathDiagnostics } from '../../../recipe/load';
import type { ModelHost } from '../../../recipe/load';
import { resolvePlan } from '../../../recipe/resolvePlan';
import { validateRecipe } from '../../../recipe/validators/validate';

/** At most this many diagnostics are published for one document (the first by position). */
export const MAX_DIAGNOSTICS = 500;

/** Every diagnostic of `text` (the recipe at `recipePath`), sorted by position, at most MAX_DIAGNOSTICS. */
export async function checkDocument(
  text: string,
  recipePath: string,
  host: ModelHost,
  exists: (absPath: string) => boolean,
): Promise<RecipeDiagnostic[]> {
  const recipe = readRecipe(text);
  let layers: LayerInfo[] | undefined;
  let inputs: ModelSummary['inputs'] | undefined;
  let modelError: string | undefined;
  let rotation: ModelSummary['rotation'] | undefined;
  const model = recipe.values.model;
  if (model) {
    const abs = path.resolve(path.dirname(recipePath), String(model.value));
    if (exists(abs)) {
      try {
        layers = await host.layers(abs);
        inputs = await host.inputs?.(abs);
        rotation = await host.rotation?.(abs);
      } catch (e) {
        modelError = (e as Error).message;
      }
    }
  }
  const out = validateRecipe(recipe, recipePath, { exists, layers, inputs, modelError, rotation });
  if (layers && !out.some((d) => d.severity === 'error')) {
    const { plan } = resolvePlan(recipe, layers, recipePath, inputs);
    if (plan) {
      out.push(...(await outputPathDiagnostics(recipe, plan, host)));
      out.sort((a, b) => a.span.start - b.span.start);
    }
  }
  return out.slice(0, MAX_DIAGNOSTICS);
}
