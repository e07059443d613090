import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, openRecipe, haveModel } from './helpers';

suite('panels', () => {
  for (const [command, kind] of [
    ['lowbit.showReport', 'report'],
    ['lowbit.showSensitivity', 'sensitivity'],
    ['lowbit.showSaliency', 'saliency'],
    ['lowbit.showRanks', 'ranks'],
    ['lowbit.showPareto', 'pareto'],
  ] as const) {
    test(`${command} opens the ${kind} panel with a strict CSP`, async function () {
      if (!haveModel()) this.skip();
      const a = await api();
      await openRecipe('stories.lowbit.yaml');
      const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>(command);
      assert.ok(panel, `${command} returned its panel`);
      assert.equal(panel.viewType, `lowbit.${kind}`);
      assert.ok(a.ctx.panels.isOpen(kind));
      const html = panel.webview.html;
      assert.match(html, /default-src 'none'/);
      assert.match(html, /script-src 'nonce-[A-Za-z0-9+/=]{20,}'/);
      const script = /<script nonce="[^"]+" src="([^"]+)"/.exec(html)?.[1] ?? '';
      assert.ok(script.endsWith(`/dist/webview/${kind}.js`), `script from the extension's dist: ${script}`);
      const roots = (panel.webview.options.localResourceRoots ?? []).map((u) => u.path);
      assert.equal(roots.length, 2);
      assert.ok(roots[0].endsWith('/dist/webview') && roots[1].endsWith('/media'), `localResourceRoots ${roots.join(', ')}`);
    });
  }
});

suite('panel actions', () => {
  test('reveal rule: a layer click selects the recipe rule that governs it', async function () {
    if (!haveModel()) this.skip();
    const a = await api();
    const editor = await openRecipe('recorded-gptq.lowbit.yaml');
    await a.ctx.panels.revealRule(editor.document.uri, 'layers.3.w2');
    const active = vscode.window.activeTextEditor;
    assert.equal(active?.document.uri.toString(), editor.document.uri.toString());
    const line = active!.document
      .getText()
      .split('\n')
      .findIndex((l) => l.includes('"layers.*.w2"'));
    assert.ok(
      active!.selection.start.line >= line && active!.selection.start.line <= line + 1,
      `selection at line ${active!.selection.start.line + 1}, rule at ${line + 1}`,
    );
  });

  test('"Give the most sensitive layers 8 bits" edits the recipe from the last report\'s sensitivity', async function () {
    if (!haveModel()) this.skip();
    const a = await api();
    const editor = await openRecipe('recorded-gptq.lowbit.yaml');
    await vscode.commands.executeCommand('lowbit.showSensitivity', editor.document.uri);
    const before = editor.document.getText();
    const chosen = await a.ctx.panels.applyMixedPrecision(editor.document.uri, 8, 0.25);
    assert.ok(chosen.length > 0, 'some layers chosen');
    const after = vscode.window.activeTextEditor!.document.getText();
    assert.notEqual(after, before, 'the recipe was edited');
    const count = (t: string) => (t.match(/bits:\s*8/g) ?? []).length;
    assert.ok(count(after) > count(before), `more 8-bit settings after the edit:\n${after}`);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });
});
