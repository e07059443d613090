/**
 * Extension entry: starts the Lowbit language server and registers the commands. Activation
 * errors are shown to the user and rethrown (VS Code would otherwise fail silently).
 */
import * as vscode from 'vscode';
import { Ctx } from './ctx';
import { compressAndEvaluate } from './commands/compressAndEvaluate';
import { showPanel } from './commands/showPanels';
import { restartServer } from './commands/restartServer';
import { suggestBudget } from './commands/suggestBudget';
import { trackRecipeEditors } from './recipe';

let ctx: Ctx | undefined;

/** What `activate` returns: the context, for the e2e suite (`extension.exports`). */
export interface LowbitApi {
  ctx: Ctx;
}

export async function activate(context: vscode.ExtensionContext): Promise<LowbitApi> {
  try {
    const c = new Ctx(context);
    ctx = c;
    context.subscriptions.push(c);
    const commands: Record<string, (...args: unknown[]) => unknown> = {
      'lowbit.compressAndEvaluate': compressAndEvaluate(c),
      'lowbit.showReport': showPanel(c, 'report'),
      'lowbit.showSensitivity': showPanel(c, 'sensitivity'),
      'lowbit.showSaliency': showPanel(c, 'saliency'),
      'lowbit.showRanks': showPanel(c, 'ranks'),
      'lowbit.showPareto': showPanel(c, 'pareto'),
      'lowbit.suggestBudget': suggestBudget(c),
      'lowbit.restartServer': restartServer(c),
    };
    for (const [id, fn] of Object.entries(commands)) c.push(vscode.commands.registerCommand(id, fn));
    c.push(trackRecipeEditors(c));
    await c.start();
    return { ctx: c };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    void vscode.window.showErrorMessage(`Lowbit failed to start: ${msg}`);
    throw e;
  }
}

export async function deactivate(): Promise<void> {
  await ctx?.stop();
  ctx = undefined;
}
