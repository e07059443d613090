/**
 * `lowbit.suggestBudget`: sends `lowbit/suggest` for the recipe (progress per layer in the
 * notification; Cancel cancels the server's work), shows the suggested rules as an edit VS Code asks
 * the user to confirm (refactor preview), and opens the Pareto panel. Refuses in untrusted workspaces.
 */
import * as vscode from 'vscode';
import { SuggestRequest } from '../../../protocol/messages';
import type { Ctx } from '../ctx';
import { targetRecipe } from '../recipe';
import { withJobProgress } from '../progress';

/** What the command returns (for tests): the result and whether the edit was applied; undefined when refused or cancelled. */
export type SuggestOutcome = { result: SuggestRequest.Result['result']; applied: boolean } | undefined;

export function suggestBudget(ctx: Ctx) {
  return async (arg?: unknown): Promise<SuggestOutcome> => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('Lowbit: suggestions run only in trusted workspaces (they load models and native code).');
      return undefined;
    }
    // The code lens passes the recipe's uri as a string.
    const recipe = await targetRecipe(ctx, typeof arg === 'string' ? vscode.Uri.parse(arg) : arg);
    if (!recipe) return undefined;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === recipe.toString());
    if (doc?.isDirty) await doc.save();
    const client = ctx.client;
    ctx.setHealth('running', `Suggesting rules for ${vscode.workspace.asRelativePath(recipe)}`);
    try {
      const r = await withJobProgress(ctx, 'Lowbit: suggest rules for the budget', (workDoneToken, token) =>
        client.sendRequest(SuggestRequest.type, { uri: recipe.toString(), workDoneToken }, token),
      );
      if (!r) {
        void vscode.window.showInformationMessage('Lowbit: suggestion cancelled; the recipe is unchanged.');
        return undefined;
      }
      ctx.panels.setSuggestion(recipe, r.result);
      await ctx.panels.show('pareto', recipe);
      const edit = await client.protocol2CodeConverter.asWorkspaceEdit(r.edit);
      const applied = await vscode.workspace.applyEdit(edit, { isRefactoring: true });
      return { result: r.result, applied };
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      void vscode.window.showErrorMessage(`Lowbit: suggestion failed: ${msg}`);
      throw e;
    } finally {
      ctx.setHealth('ready');
    }
  };
}
