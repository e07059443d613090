/**
 * Runs a server job behind VS Code's progress notification: a fresh work-done token whose
 * `$/progress` reports feed the notification, and one cancellation source fed by the notification's
 * Cancel button and by `ctx.cancelJob()`; cancelling cancels the LSP request (→ the server's job).
 */
import * as vscode from 'vscode';
import { randomUUID } from 'node:crypto';
import { WorkDoneProgress, type WorkDoneProgressBegin, type WorkDoneProgressReport, type WorkDoneProgressEnd } from 'vscode-languageclient';
import type { LanguageClient } from 'vscode-languageclient/node';

/** What a job needs from the extension's state (Ctx implements it; kept narrow so this module imports no Ctx). */
export interface JobHost {
  readonly client: LanguageClient;
  currentJob: vscode.CancellationTokenSource | undefined;
  jobProgress: number | undefined;
}

/** Resolves to the job's result, or undefined when the user cancelled it. */
export async function withJobProgress<T>(
  ctx: JobHost,
  title: string,
  send: (workDoneToken: string, token: vscode.CancellationToken) => Promise<T>,
): Promise<T | undefined> {
  const client = ctx.client;
  const workDoneToken = `lowbit-${randomUUID()}`;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token) => {
      let last = 0;
      const sub = client.onProgress(
        WorkDoneProgress.type,
        workDoneToken,
        (v: WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd) => {
          if (v.kind === 'end') return;
          const pct = v.percentage ?? last;
          ctx.jobProgress = pct;
          progress.report({ message: v.message, increment: Math.max(0, pct - last) });
          last = Math.max(last, pct);
        },
      );
      const cts = new vscode.CancellationTokenSource();
      const link = token.onCancellationRequested(() => cts.cancel());
      ctx.currentJob = cts;
      ctx.jobProgress = undefined;
      try {
        return await send(workDoneToken, cts.token);
      } catch (e) {
        if (cts.token.isCancellationRequested) return undefined;
        throw e;
      } finally {
        sub.dispose();
        link.dispose();
        if (ctx.currentJob === cts) ctx.currentJob = undefined;
        cts.dispose();
      }
    },
  );
}
