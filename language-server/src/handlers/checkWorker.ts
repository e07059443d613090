/**
 * Recipe checks off the server's main thread (issue 17): a worker_threads worker runs
 * services/checkDocument, so hovers, completions and other documents are answered while a 2 MB
 * recipe is checked. A check whose document changed is cancelled — the worker is terminated and a
 * fresh one takes the newest text; queued checks of one document keep only the newest version.
 *
 * The worker runs this same bundle (dist/server.js, or dist/cli.js for `lowbit lsp`): loaded with the
 * workerData role below, this module serves checks instead of the server starting.
 */
import * as fs from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { RecipeDiagnostic } from '../../../recipe/parse';
import { ModelCache } from '../../../engine/onnx/inspect';
import { modelHostOf } from '../services/modelSource';
import { checkDocument } from '../services/checkDocument';

const ROLE = 'lowbit-recipe-check';

interface CheckRequest {
  id: number;
  text: string;
  recipePath: string;
}
type CheckReply = { id: number; diagnostics: RecipeDiagnostic[] } | { id: number; error: string };

/** True in a check worker: the entry point must not start a server there. */
export const isCheckWorker = !isMainThread && (workerData as { role?: string } | null)?.role === ROLE;

if (isCheckWorker) {
  const host = modelHostOf(new ModelCache());
  parentPort!.on('message', (m: CheckRequest) => {
    checkDocument(m.text, m.recipePath, host, (p) => fs.existsSync(p)).then(
      (diagnostics) => parentPort!.postMessage({ id: m.id, diagnostics } satisfies CheckReply),
      (e: Error) => parentPort!.postMessage({ id: m.id, error: e.stack ?? String(e) } satisfies CheckReply),
    );
  });
}

interface Pending {
  key: string;
  req: CheckRequest;
  /** Resolves with the diagnostics, or undefined when the check was superseded (cancelled). */
  resolve: (d: RecipeDiagnostic[] | undefined) => void;
  reject: (e: Error) => void;
}

/** One check worker, started on demand; checks run one at a time, newest version per document. */
export class RecipeChecker {
  private worker?: Worker;
  private running?: Pending;
  private readonly queue = new Map<string, Pending>();
  private nextId = 1;
  /** Workers started so far (a cancelled check costs one): for tests and logs. */
  started = 0;

  constructor(private readonly entry: string = __filename) {}

  /** Check `text` as the document `key` (its URI). Undefined when a newer check of `key` replaced it. */
  check(key: string, text: string, recipePath: string): Promise<RecipeDiagnostic[] | undefined> {
    return new Promise((resolve, reject) => {
      const p: Pending = { key, req: { id: this.nextId++, text, recipePath }, resolve, reject };
      this.queue.get(key)?.resolve(undefined);
      this.queue.delete(key);
      if (this.running?.key === key) this.cancelRunning();
      this.queue.set(key, p);
      this.pump();
    });
  }

  /** Drop a document's queued and running checks (it was closed). */
  forget(key: string): void {
    this.queue.get(key)?.resolve(undefined);
    this.queue.delete(key);
    if (this.running?.key === key) {
      this.cancelRunning();
      this.pump();
    }
  }

  /**
   * Stop the worker (and forget its model cache): the running check is cancelled (the caller
   * re-schedules every document); queued checks run in a fresh worker.
   */
  reset(): void {
    this.cancelRunning();
    this.worker?.terminate().catch(() => undefined);
    this.worker = undefined;
    this.pump();
  }

  private cancelRunning(): void {
    const r = this.running;
    if (!r) return;
    this.running = undefined;
    // The check may be deep in synchronous work: only terminating the thread stops it.
    this.worker?.removeAllListeners();
    this.worker?.terminate().catch(() => undefined);
    this.worker = undefined;
    r.resolve(undefined);
  }

  private spawn(): Worker {
    const w = new Worker(this.entry, { workerData: { role: ROLE } });
    this.started++;
    w.unref();
    w.on('message', (m: CheckReply) => {
      const r = this.running;
      if (!r || r.req.id !== m.id) return;
      this.running = undefined;
      if ('error' in m) r.reject(new Error(m.error));
      else r.resolve(m.diagnostics);
      this.pump();
    });
    const died = (e: Error) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      const r = this.running;
      this.running = undefined;
      r?.reject(e);
      this.pump();
    };
    w.on('error', died);
    w.on('exit', (code) => died(new Error(`recipe check worker exited with code ${code}`)));
    return w;
  }

  private pump(): void {
    if (this.running) return;
    const next = this.queue.values().next();
    if (next.done) return;
    const p = next.value;
    this.queue.delete(p.key);
    this.running = p;
    this.worker ??= this.spawn();
    this.worker.postMessage(p.req);
  }
}
