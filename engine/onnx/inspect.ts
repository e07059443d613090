/** `inspectModel` for `lowbit inspect`, and a path+mtime cache for the language server. */
import { stat } from 'node:fs/promises';
import type { ModelSummary } from '../../protocol/model';
import { loadModel } from './model';
import { findRotationPlan, RotationUnsupported } from '../transforms/rotation';

/** Loads a model and returns its summary (weights are not kept), with whether rotation applies. */
export async function inspectModel(path: string): Promise<ModelSummary> {
  const m = await loadModel(path);
  let rotation: ModelSummary['rotation'];
  try {
    rotation = { size: findRotationPlan(m).size };
  } catch (e) {
    // A graph the walk cannot read is only a reason not to rotate, never a failed inspect.
    rotation = {
      problem: e instanceof RotationUnsupported ? (e.node === e.modelPath ? e.reason : `${e.node}: ${e.reason}`) : (e as Error).message,
    };
  }
  return { ...m.summary(), rotation };
}

/**
 * Caches model summaries by path, the one model cache of the house (the language server's completion,
 * hover and diagnostics use it): an entry is reloaded when the file's mtime or size changes, failed
 * loads are not kept, and at most `capacity` models are held (least recently used goes first).
 */
export class ModelCache {
  private readonly entries = new Map<string, { mtimeMs: number; size: number; summary: Promise<ModelSummary> }>();
  /** How many times a file was actually (re)loaded — for diagnostics and tests. */
  loads = 0;

  constructor(
    private readonly load: (path: string) => Promise<ModelSummary> = inspectModel,
    private readonly capacity = 8,
  ) {}

  /** The summary of `path`, reloading when the file changed. Errors are not cached. */
  async get(path: string): Promise<ModelSummary> {
    const st = await stat(path);
    const hit = this.entries.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) {
      this.entries.delete(path);
      this.entries.set(path, hit);
      return hit.summary;
    }
    this.loads++;
    const summary = this.load(path);
    this.entries.delete(path);
    this.entries.set(path, { mtimeMs: st.mtimeMs, size: st.size, summary });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    summary.catch(() => {
      if (this.entries.get(path)?.summary === summary) this.entries.delete(path);
    });
    return summary;
  }

  /** Forgets one path (on a file-change notification), or everything. */
  invalidate(path?: string): void {
    if (path) this.entries.delete(path);
    else this.entries.clear();
  }
}
