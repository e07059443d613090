/**
 * Per-document state for the server: analyses (recipe + model layers + last report), cached by
 * document version and model mtime, and debounced diagnostics.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Connection, TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { upgradeReport, type Report } from '../../../protocol/report';
import { analyze } from '../services/analysis';
import type { RecipeAnalysis } from '../services/analysis';
import { LayerCache, modelHostOf } from '../services/modelSource';
import { toLspDiagnostic } from '../services/diagnostics';
import { checkDocument } from '../services/checkDocument';
import { RecipeChecker } from './checkWorker';
import { uriToPath } from '../services/analysis';
import { reportPathFor } from '../../../recipe/resolvePlan';

/** Milliseconds of quiet before a changed document is re-validated. */
export const DIAGNOSTIC_DELAY_MS = 150;

export class Workspace {
  readonly models = new LayerCache();
  private readonly analyses = new Map<string, { version: number; modelKey: string; paths?: string[]; analysis: Promise<RecipeAnalysis> }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly reports = new Map<string, { key: string; report?: Report }>();
  /** Diagnostics are computed off the main thread (issue 17); hovers etc. stay on it. */
  readonly checker = new RecipeChecker();

  constructor(
    private readonly connection: Connection,
    readonly documents: TextDocuments<TextDocument>,
  ) {}

  /** The analysis of an open document (model layers loaded lazily; never rejects). */
  analysis(uri: string): Promise<RecipeAnalysis> | undefined {
    const doc = this.documents.get(uri);
    if (!doc) return undefined;
    const hit = this.analyses.get(uri);
    // Re-analyze when the text changed or the model / report on disk did (no file watcher needed).
    if (hit && hit.version === doc.version && hit.modelKey === this.diskKey(hit)) return hit.analysis;
    const analysis = this.build(doc);
    const entry = { version: doc.version, modelKey: '', analysis, paths: [] as string[] };
    this.analyses.set(uri, entry);
    void analysis.then((a) => {
      entry.paths = this.watchedPaths(a);
      entry.modelKey = this.diskKey(entry);
    });
    return analysis;
  }

  private watchedPaths(a: RecipeAnalysis): string[] {
    const dir = path.dirname(a.recipePath);
    const out: string[] = [];
    if (a.recipe.values.model) out.push(path.resolve(dir, String(a.recipe.values.model.value)));
    if (a.recipe.values.output) out.push(reportPathFor(path.resolve(dir, String(a.recipe.values.output.value))));
    return out;
  }

  /** mtimes of the files an analysis depends on. */
  private diskKey(entry: { paths?: string[] }): string {
    return (entry.paths ?? [])
      .map((p) => {
        try {
          const st = fs.statSync(p);
          return `${st.mtimeMs}:${st.size}`;
        } catch {
          return '-';
        }
      })
      .join('|');
  }

  private async build(doc: TextDocument): Promise<RecipeAnalysis> {
    const a = analyze(doc);
    const model = a.recipe.values.model;
    if (model) {
      const abs = path.resolve(path.dirname(a.recipePath), String(model.value));
      if (fs.existsSync(abs)) {
        try {
          const m = await this.models.get(abs);
          a.layers = m.layers;
          a.inputs = m.inputs;
          a.rotation = m.rotation;
        } catch (e) {
          a.modelError = (e as Error).message;
        }
      }
    }
    const out = a.recipe.values.output;
    if (out) a.report = this.readReport(reportPathFor(path.resolve(path.dirname(a.recipePath), String(out.value))));
    return a;
  }

  /** The report at `file`, cached by mtime; undefined when absent or unreadable. */
  readReport(file: string): Report | undefined {
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch {
      return undefined;
    }
    const key = `${st.mtimeMs}:${st.size}`;
    const hit = this.reports.get(file);
    if (hit?.key === key) return hit.report;
    let report: Report | undefined;
    try {
      if (st.size < 64 << 20) report = upgradeReport(JSON.parse(fs.readFileSync(file, 'utf8'))) as Report;
    } catch {
      report = undefined;
    }
    this.reports.set(file, { key, report });
    return report;
  }

  /** Schedule diagnostics for a document after a short quiet period. */
  scheduleDiagnostics(uri: string, delay = DIAGNOSTIC_DELAY_MS): void {
    clearTimeout(this.timers.get(uri));
    this.timers.set(
      uri,
      setTimeout(() => {
        this.timers.delete(uri);
        void this.publish(uri);
      }, delay),
    );
  }

  /**
   * Check now (in the check worker; in this thread if the worker fails) and publish. A check that a
   * newer edit superseded publishes nothing: the newer one will.
   */
  async publish(uri: string): Promise<void> {
    const doc = this.documents.get(uri);
    if (!doc) return;
    const text = doc.getText();
    const recipePath = uriToPath(uri);
    try {
      const found = await this.checker.check(uri, text, recipePath).catch((e: Error) => {
        this.connection.console.error(`lowbit: the recipe check worker failed (${e.message}); checking ${uri} in the server thread`);
        return checkDocument(text, recipePath, modelHostOf(this.models), (p) => fs.existsSync(p));
      });
      if (!found || this.documents.get(uri)?.version !== doc.version) return; // a newer edit will publish
      await this.connection.sendDiagnostics({ uri, version: doc.version, diagnostics: found.map((d) => toLspDiagnostic(doc, d)) });
    } catch (e) {
      this.connection.console.error(`lowbit: diagnostics failed for ${uri}: ${(e as Error).stack ?? e}`);
    }
  }

  /** Forget everything derived from files on disk (models, reports) and re-validate open documents. */
  refresh(): void {
    this.models.invalidate();
    this.reports.clear();
    this.analyses.clear();
    this.checker.reset();
    for (const d of this.documents.all()) this.scheduleDiagnostics(d.uri, 0);
  }

  /** Drop a closed document's state. */
  close(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    this.analyses.delete(uri);
    this.checker.forget(uri);
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
  }
}
