import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, openRecipe, waitFor, haveModel } from './helpers';

suite('activation and diagnostics', () => {
  test('activates, registers every command, starts the server', async () => {
    const a = await api();
    const cmds = await vscode.commands.getCommands(true);
    for (const c of [
      'lowbit.compressAndEvaluate',
      'lowbit.showReport',
      'lowbit.showSensitivity',
      'lowbit.showSaliency',
      'lowbit.showRanks',
      'lowbit.showPareto',
      'lowbit.suggestBudget',
      'lowbit.restartServer',
    ]) {
      assert.ok(cmds.includes(c), `command ${c} registered`);
    }
    assert.ok(a.ctx.client.isRunning(), 'language server running');
  });

  test('a recipe opens as lowbit-recipe and a rule that matches no layer gets a diagnostic at its range', async function () {
    if (!haveModel()) this.skip();
    const editor = await openRecipe('bad.lowbit.yaml');
    assert.equal(editor.document.languageId, 'lowbit-recipe');
    const line = editor.document
      .getText()
      .split('\n')
      .findIndex((l) => l.includes('layers.*.nonexistent'));
    const diags = await waitFor('diagnostics on bad.lowbit.yaml', () => {
      const d = vscode.languages.getDiagnostics(editor.document.uri);
      return d.length ? d : undefined;
    });
    const d = diags.find((x) => x.range.start.line === line);
    assert.ok(d, `a diagnostic on line ${line + 1}; got ${diags.map((x) => `${x.range.start.line + 1}: ${x.message}`).join(' | ')}`);
    assert.match(d.message, /nonexistent|match/i);
  });

  test('the good recipe has no errors', async function () {
    if (!haveModel()) this.skip();
    const editor = await openRecipe('stories.lowbit.yaml');
    await new Promise((r) => setTimeout(r, 1500));
    const errors = vscode.languages.getDiagnostics(editor.document.uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error);
    assert.deepEqual(
      errors.map((d) => d.message),
      [],
    );
  });

  test('restartServer brings the server back', async () => {
    const a = await api();
    await vscode.commands.executeCommand('lowbit.restartServer');
    await waitFor('server running after restart', () => a.ctx.client.isRunning());
  });
});
