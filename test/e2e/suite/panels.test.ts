import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, openRecipe, haveModel } from './helpers';

suite('panels', () => {
  for (const [command, kind] of [['lowbit.showReport', 'report'], ['lowbit.showSensitivity', 'sensitivity'], ['lowbit.showSaliency', 'saliency'], ['lowbit.showRanks', 'ranks']] as const) {
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
