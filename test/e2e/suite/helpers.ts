/** Shared helpers of the e2e suite (runs inside the extension host). */
import * as vscode from 'vscode';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LowbitApi } from '../../../extension/src/main';

/** The generated test workspace (the harness writes it and passes it in LOWBIT_E2E_WS). */
export function workspaceDir(): string {
  const ws = process.env.LOWBIT_E2E_WS ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!ws) throw new Error('no e2e workspace: set LOWBIT_E2E_WS or open a folder');
  return ws;
}

/** True when ../shared (the real model) is available; the recipes were generated against it. */
export function haveModel(): boolean {
  return existsSync(join(workspaceDir(), '.has-model'));
}

/** Activates the extension and returns its API. */
export async function api(): Promise<LowbitApi> {
  const ext = vscode.extensions.getExtension<LowbitApi>('lowbit.lowbit');
  if (!ext) throw new Error('extension lowbit.lowbit is not installed in this host');
  return ext.isActive ? ext.exports : ext.activate();
}

/** Polls `f` until it returns a truthy value or `ms` pass (then throws naming `what`). */
export async function waitFor<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Opens a recipe of the workspace in an editor. */
export async function openRecipe(name: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(join(workspaceDir(), name)));
  return vscode.window.showTextDocument(doc);
}
