/**
 * Custom requests (protocol/messages.ts): compress (work-done progress, cancellable, refused in
 * untrusted workspaces), report, sensitivity (+ streamed updates), ruleForLayer, mixedPrecision,
 * suggest (budgeted mixed precision; progress per layer, cancellable, the result as an edit to confirm).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ResponseError, ErrorCodes, LSPErrorCodes } from 'vscode-languageserver/node';
import type { Connection, CancellationToken } from 'vscode-languageserver/node';
import {
  CompressRequest,
  ReportRequest,
  SensitivityRequest,
  SensitivityUpdateNotification,
  RuleForLayerRequest,
  MixedPrecisionRequest,
  SuggestRequest,
  SuggestEditRequest,
} from '../../../protocol/messages';
import type { JobPlan, JobProgress } from '../../../protocol/plan';
import { loadRecipePlan } from '../../../recipe/load';
import { reportPathFor } from '../../../recipe/resolvePlan';
import { uriToPath } from '../services/analysis';
import { modelHostOf } from '../services/modelSource';
import { ruleForLayer, mixedPrecisionEdit } from '../services/ruleEdits';
import { runJob } from '../../../engine/job';
import { runSensitivity } from '../../../engine/sensitivity';
import { suggest } from '../../../engine/budget/suggest';
import { readBudget } from '../../../recipe/budget';
import { suggestionSummary, suggestWorkspaceEdit } from '../services/suggestEdit';
import type { Workspace } from './workspace';

/** Error code for a refused job (untrusted workspace, recipe with errors, a job already running). */
export const JOB_REFUSED = -32001;

/** Register the lowbit/* requests. `trusted` is read from initializationOptions.trusted. */
export function registerJobRequests(connection: Connection, ws: Workspace, isTrusted: () => boolean): void {
  let running: string | undefined;

  const planFor = async (uri: string): Promise<JobPlan> => {
    if (!isTrusted())
      throw new ResponseError(JOB_REFUSED, 'Lowbit jobs do not run in an untrusted workspace (trust the workspace to compress).');
    if (running) throw new ResponseError(JOB_REFUSED, `A job is already running (${running}).`);
    // An open recipe runs as the editor shows it: the client saves before it asks, but a save that is
    // still in flight (or failed) must not run the previous text from disk.
    const open = ws.documents.get(uri)?.getText();
    const { plan, diagnostics } = await loadRecipePlan(uriToPath(uri), modelHostOf(ws.models), open);
    if (!plan) {
      const errs = diagnostics
        .filter((d) => d.severity === 'error')
        .slice(0, 5)
        .map((d) => `${path.basename(d.file)}:${d.line}:${d.column}: ${d.message}`);
      throw new ResponseError(JOB_REFUSED, `The recipe has errors:\n${errs.join('\n')}`);
    }
    return plan;
  };

  /** Run `work` with work-done progress and an AbortSignal tied to both cancellation routes. */
  const withProgress = async <T>(
    title: string,
    token: CancellationToken,
    workDoneToken: string | number | undefined,
    work: (signal: AbortSignal, report: (pct: number | undefined, msg: string) => void) => Promise<T>,
  ): Promise<T> => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    // Client-initiated progress is cancelled by cancelling the request itself (LSP spec).
    const progress = connection.window.attachWorkDoneProgress(workDoneToken);
    progress.begin(title, 0, 'starting', true);
    let last = 0;
    const report = (pct: number | undefined, msg: string) => {
      const now = Date.now();
      if (now - last < 100 && pct !== 100) return;
      last = now;
      progress.report(pct === undefined ? 0 : Math.max(0, Math.min(100, Math.round(pct))), msg);
    };
    try {
      return await work(abort.signal, report);
    } catch (e) {
      if (abort.signal.aborted) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'Cancelled.');
      throw e instanceof ResponseError ? e : new ResponseError(ErrorCodes.InternalError, (e as Error).message);
    } finally {
      progress.done();
    }
  };

  connection.onRequest(
    CompressRequest.method,
    async (params: CompressRequest.Params, token: CancellationToken): Promise<CompressRequest.Result> => {
      const plan = await planFor(params.uri);
      running = 'compress';
      try {
        const report = await withProgress('Lowbit: compress and evaluate', token, params.workDoneToken, (signal, rep) =>
          runJob(plan, { signal, onProgress: (p: JobProgress) => rep(progressPercent(p), p.message) }),
        );
        ws.refresh();
        return { reportPath: plan.reportPath, report };
      } finally {
        running = undefined;
      }
    },
  );

  connection.onRequest(ReportRequest.method, async (params: ReportRequest.Params): Promise<ReportRequest.Result> => {
    const a = await ws.analysis(params.uri);
    const out = a?.recipe.values.output;
    if (!a || !out) return null;
    const outputPath = path.resolve(path.dirname(a.recipePath), String(out.value));
    const reportPath = reportPathFor(outputPath);
    const report = ws.readReport(reportPath);
    if (!report) return null;
    const dir = path.dirname(reportPath);
    let history: string[] = [];
    try {
      history = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.report.json'))
        .map((f) => path.join(dir, f))
        .sort((x, y) => fs.statSync(y).mtimeMs - fs.statSync(x).mtimeMs);
    } catch {
      history = [reportPath];
    }
    return { reportPath, report, history };
  });

  connection.onRequest(
    SensitivityRequest.method,
    async (params: SensitivityRequest.Params, token: CancellationToken): Promise<SensitivityRequest.Result> => {
      const plan = await planFor(params.uri);
      running = 'sensitivity';
      try {
        const entries = await withProgress('Lowbit: layer sensitivity', token, params.workDoneToken, (signal, rep) =>
          runSensitivity(plan, {
            signal,
            onUpdate: (u) => {
              rep(u.total ? (100 * u.done) / u.total : undefined, u.phase === 'proxy' ? 'Hessian proxy' : `KL ${u.layer ?? ''}`);
              void connection.sendNotification(SensitivityUpdateNotification.method, <SensitivityUpdateNotification.Params>{
                uri: params.uri,
                layers: u.entries.map((e) => ({ name: e.layer, proxy: e.proxy, kl: e.kl })),
                done: false,
              });
            },
          }),
        );
        const layers = entries.map((e) => ({ name: e.layer, proxy: e.proxy, kl: e.kl }));
        void connection.sendNotification(SensitivityUpdateNotification.method, <SensitivityUpdateNotification.Params>{
          uri: params.uri,
          layers,
          done: true,
        });
        return { layers };
      } finally {
        running = undefined;
      }
    },
  );

  connection.onRequest(
    SuggestRequest.method,
    async (params: SuggestRequest.Params, token: CancellationToken): Promise<SuggestRequest.Result> => {
      const plan = await planFor(params.uri);
      const a = await ws.analysis(params.uri);
      if (!a) throw new ResponseError(ErrorCodes.InvalidParams, `Document not open: ${params.uri}`);
      const fromRecipe = readBudget(a.recipe);
      const budget = params.target ? { estimate: 'kl' as const, samples: 4, ...fromRecipe, target: params.target } : fromRecipe;
      if (!budget) throw new ResponseError(JOB_REFUSED, 'The recipe has no `budget:` (add `budget: { bits_per_weight: 3.5 }`).');
      running = 'suggest';
      try {
        const result = await withProgress('Lowbit: suggest rules for the budget', token, params.workDoneToken, (signal, rep) =>
          suggest(plan, budget, { signal, onProgress: (p) => rep(p.total ? (100 * (p.index ?? 0)) / p.total : undefined, p.message) }),
        );
        // The edit is made against the document as it is now (it may have changed while the suggestion ran).
        const now = (await ws.analysis(params.uri)) ?? a;
        return { result, edit: suggestWorkspaceEdit(now.doc, result.yaml, suggestionSummary(result)) };
      } finally {
        running = undefined;
      }
    },
  );

  connection.onRequest(SuggestEditRequest.method, async (params: SuggestEditRequest.Params): Promise<SuggestEditRequest.Result> => {
    const a = await ws.analysis(params.uri);
    if (!a) throw new ResponseError(ErrorCodes.InvalidParams, `Document not open: ${params.uri}`);
    return { edit: suggestWorkspaceEdit(a.doc, params.yaml, params.summary) };
  });

  connection.onRequest(RuleForLayerRequest.method, async (params: RuleForLayerRequest.Params): Promise<RuleForLayerRequest.Result> => {
    const a = await ws.analysis(params.uri);
    return a ? ruleForLayer(a, params.layer) : null;
  });

  connection.onRequest(
    MixedPrecisionRequest.method,
    async (params: MixedPrecisionRequest.Params): Promise<MixedPrecisionRequest.Result> => {
      const a = await ws.analysis(params.uri);
      if (!a) throw new ResponseError(ErrorCodes.InvalidParams, `Document not open: ${params.uri}`);
      return mixedPrecisionEdit(a, params.layers, params.highBits, params.budgetFraction);
    },
  );
}

/** Overall percentage for a job progress event (load 0–5, calibrate 5–30, quantize 30–80, export 80–85, evaluate 85–100). */
export function progressPercent(p: JobProgress): number | undefined {
  const f = p.fraction ?? (p.stage === 'quantize' ? p.index / Math.max(1, p.total) : 0);
  const [lo, hi] = { load: [0, 5], calibrate: [5, 30], quantize: [30, 80], export: [80, 85], evaluate: [85, 100], done: [100, 100] }[
    p.stage
  ];
  return lo + (hi - lo) * Math.max(0, Math.min(1, f));
}
