/** `lowbit.restartServer`: stops and starts the language server (e.g. after it crashed or was rebuilt). */
import * as vscode from 'vscode';
import type { Ctx } from '../ctx';

export function restartServer(ctx: Ctx) {
  return async (): Promise<void> => {
    await ctx.stop();
    await ctx.start();
    void vscode.window.setStatusBarMessage('Lowbit: language server restarted', 3000);
  };
}
