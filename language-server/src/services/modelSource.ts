/**
 * The model's layers for completion, hover, diagnostics and plans: loaded lazily through the ONNX
 * engine and cached by path + mtime + size (the engine's ModelCache), so an edited model is re-read
 * on the next request.
 */
import type { ModelSummary } from '../../../protocol/model';
import type { ModelHost } from '../../../recipe/load';
import { ModelCache } from '../../../engine/onnx/inspect';

export { ModelCache as LayerCache };

const shared = new ModelCache();

/**
 * What the recipe checks load of a model (recipe/load.ts's ModelHost), read through `cache`: the
 * process-wide one below for the CLI, the workspace's own for the server's jobs.
 */
export function modelHostOf(cache: { get(absPath: string): Promise<ModelSummary> }): ModelHost {
  return {
    layers: async (p) => (await cache.get(p)).layers,
    inputs: async (p) => (await cache.get(p)).inputs,
    rotation: async (p) => (await cache.get(p)).rotation,
    externalFiles: async (p) => {
      const s = await cache.get(p);
      return { files: s.externalFiles ?? [], error: s.externalDataError };
    },
  };
}

/** The model host over a process-wide cache. */
export const modelHost = modelHostOf(shared);
