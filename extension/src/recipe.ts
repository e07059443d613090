/**
 * Which recipe a command acts on: the active recipe editor, else the recipe editor focused last (a
 * panel or the output may have the focus when a command runs), else pick one.
 */
import * as vscode from 'vscode';
import type { Ctx } from './ctx';

export const isRecipe = (d: vscode.TextDocument) => d.languageId === 'lowbit-recipe' || /\.lowbit\.ya?ml$/.test(d.uri.path);

/** Resolves the target recipe, or undefined (after telling the user) when there is none. */
export async function targetRecipe(ctx: Ctx, arg?: unknown): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return (ctx.lastRecipe = arg);
  const active = vscode.window.activeTextEditor?.document;
  if (active && isRecipe(active)) return (ctx.lastRecipe = active.uri);
  if (ctx.lastRecipe) return ctx.lastRecipe;
  const found = await vscode.workspace.findFiles('**/*.lowbit.{yaml,yml}', '**/node_modules/**', 50);
  if (found.length === 1) return (ctx.lastRecipe = found[0]);
  if (!found.length) {
    void vscode.window.showWarningMessage('Lowbit: open a recipe (*.lowbit.yaml) first.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    found.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })),
    { placeHolder: 'Which recipe?' },
  );
  return pick ? (ctx.lastRecipe = pick.uri) : undefined;
}

/** Keeps `ctx.lastRecipe` on the recipe editor the user focused last. */
export function trackRecipeEditors(ctx: Ctx): vscode.Disposable {
  const note = (e: vscode.TextEditor | undefined) => {
    if (e && isRecipe(e.document)) ctx.lastRecipe = e.document.uri;
  };
  note(vscode.window.activeTextEditor);
  return vscode.window.onDidChangeActiveTextEditor(note);
}
