/**
 * `lowbit.compressAndEvaluate`: sends `lowbit/compress` with a work-done token; the progress
 * notification's Cancel cancels the request (and the server's job). Refuses in untrusted workspaces.
 * Opens the report panel when the run finishes.
 */
import * as vscode from 'vscode';
import { CompressRequest } from '../../../protocol/messages';
import type { Ctx } from '../ctx';
import { targetRecipe } from '../recipe';
import { withJobProgress } from '../progress';

/** Result of the command (returned for tests and other extensions): undefined when refused/cancelled. */
export type CompressOutcome = CompressRequest.Result | undefined;

export function compressAndEvaluate(ctx: Ctx) {
  return async (arg?: unknown): Promise<CompressOutcome> => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window
        .showWarningMessage(
          'Lowbit: compression runs only in trusted workspaces (it loads models and native code). Trust this workspace to enable it.',
          'Manage Workspace Trust',
        )
        .then((a) => {
          if (a) void vscode.commands.executeCommand('workbench.trust.manage');
        });
      return undefined;
    }
    const recipe = await targetRecipe(ctx, arg);
    if (!recipe) return undefined;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === recipe.toString());
    if (doc?.isDirty) await doc.save();
    const client = ctx.client;
    ctx.setHealth('running', `Compressing ${vscode.workspace.asRelativePath(recipe)}`);
    try {
      const result = await withJobProgress(ctx, 'Lowbit: compress and evaluate', (workDoneToken, token) =>
        client.sendRequest(CompressRequest.type, { uri: recipe.toString(), workDoneToken }, token),
      );
      if (!result) {
        void vscode.window.showInformationMessage('Lowbit: compression cancelled; no output was written.');
        return undefined;
      }
      ctx.panels.setReport(recipe, result.report, result.reportPath);
      await ctx.panels.show('report', recipe);
      const q = result.report.metrics.quantized.perplexity,
        f = result.report.metrics.fp.perplexity;
      void vscode.window.showInformationMessage(
        `Lowbit: wrote ${vscode.workspace.asRelativePath(result.report.output)} (${result.report.size.bits_per_weight.toFixed(2)} bits/weight${q !== undefined && f !== undefined ? `, perplexity ${f.toFixed(3)} → ${q.toFixed(3)}` : ''}).`,
      );
      return result;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      void vscode.window.showErrorMessage(`Lowbit: compression failed: ${msg}`);
      throw e;
    } finally {
      ctx.setHealth('ready');
    }
  };
}
