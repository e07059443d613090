/**
 * The model's layers for completion, hover, diagnostics and plans: loaded lazily through the ONNX
 * engine and cached by path + mtime + size (the engine's ModelCache), so an edited model is re-read
 * on the next request.
 */
import type { LayerInfo, ModelSummary } from '../protocol/model';
import { ModelCache } from '../engine/onnx/inspect';

export { ModelCache as LayerCache };

const shared = new ModelCache();

/** The layers of the model at `absPath`, through a process-wide cache. */
export async function loadLayers(absPath: string): Promise<LayerInfo[]> {
  return (await shared.get(absPath)).layers;
}

/** The graph inputs of the model at `absPath` (same cache). */
export async function loadInputs(absPath: string): Promise<ModelSummary['inputs']> {
  return (await shared.get(absPath)).inputs;
}
