/**
 * The model's layers for completion, hover, diagnostics and plans: loaded lazily through the ONNX
 * engine and cached by path + mtime + size, so an edited model is re-read on the next request.
 */
import * as fs from 'node:fs';
import type { LayerInfo, ModelSummary } from '../protocol/model';
import { loadModel } from '../engine/onnx/model';

interface Entry { key: string; summary: Promise<ModelSummary> }

/** A path+mtime keyed cache of model summaries. */
export class LayerCache {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly load: (path: string) => Promise<ModelSummary> = async (p) => (await loadModel(p)).summary(), private readonly capacity = 8) {}

  /** The summary of the model at `absPath` (re-read when its mtime or size changed). */
  async get(absPath: string): Promise<ModelSummary> {
    const st = await fs.promises.stat(absPath);
    const key = `${st.mtimeMs}:${st.size}`;
    const hit = this.entries.get(absPath);
    if (hit && hit.key === key) return hit.summary;
    const summary = this.load(absPath);
    this.entries.delete(absPath);
    this.entries.set(absPath, { key, summary });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    summary.catch(() => { if (this.entries.get(absPath)?.summary === summary) this.entries.delete(absPath); });
    return summary;
  }

  /** Forget a path (on a file-change notification). */
  invalidate(absPath?: string): void { if (absPath) this.entries.delete(absPath); else this.entries.clear(); }
}

const shared = new LayerCache();

/** The layers of the model at `absPath`, through a process-wide cache. */
export async function loadLayers(absPath: string): Promise<LayerInfo[]> {
  return (await shared.get(absPath)).layers;
}
