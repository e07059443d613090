/** `lowbit.showReport`, `lowbit.showSensitivity`, `lowbit.showSaliency`, `lowbit.showRanks`: open a panel for the target recipe. */
import type * as vscode from 'vscode';
import type { PanelKind } from '../../../webview/src/protocol';
import type { Ctx } from '../ctx';
import { targetRecipe } from '../recipe';

/** A command that opens the `kind` panel (returns the panel, for tests). */
export function showPanel(ctx: Ctx, kind: PanelKind) {
  return async (arg?: unknown): Promise<vscode.WebviewPanel | undefined> => {
    const recipe = await targetRecipe(ctx, arg);
    return recipe ? ctx.panels.show(kind, recipe) : undefined;
  };
}
