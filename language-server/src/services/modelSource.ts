/**
 * The model's layers for completion, hover, diagnostics and plans: loaded lazily through the ONNX
 * engine and cached by path + mtime + size (the engine's ModelCache), so an edited model is re-read
 * on the next request.
 */
import type { LayerInfo, ModelSummary } from '../../../protocol/model';
import { ModelCache } from '../../../engine/onnx/inspect';

export { ModelCache as LayerCache };

const shared = new ModelCache();

/** The external data files of the model at `absPath` (and why one is refused), through the same cache. */
export async function loadExternalFiles(absPath: string): Promise<{ files: string[]; error?: string }> {
  const s = await shared.get(absPath);
  return { files: s.externalFiles ?? [], error: s.externalDataError };
}

/** The layers of the model at `absPath`, through a process-wide cache. */
export async function loadLayers(absPath: string): Promise<LayerInfo[]> {
  return (await shared.get(absPath)).layers;
}

/** The graph inputs of the model at `absPath` (same cache). */
export async function loadInputs(absPath: string): Promise<ModelSummary['inputs']> {
  return (await shared.get(absPath)).inputs;
}

/** Everything the recipe checks load of a model, through the same cache (recipe/load.ts's ModelHost). */
export const modelHost = { layers: loadLayers, inputs: loadInputs, externalFiles: loadExternalFiles };
