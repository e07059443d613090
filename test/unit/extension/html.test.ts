import { test } from 'node:test';
import assert from 'node:assert/strict';
import { panelHtml, panelCsp, makeNonce } from '../../../extension/src/panels/html';

test('panel HTML carries a strict CSP with a fresh nonce on every script and stylesheet', () => {
  const a = makeNonce(),
    b = makeNonce();
  assert.notEqual(a, b);
  assert.equal(Buffer.from(a, 'base64').length, 16);
  const html = panelHtml({
    title: 'Lowbit Report',
    cspSource: 'https://x.vscode-cdn.net',
    scriptUri: 'https://x.vscode-cdn.net/dist/webview/report.js',
    styleUri: 'https://x.vscode-cdn.net/media/panel.css',
    nonce: 'abc123',
  });
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
  assert.equal(csp, panelCsp('https://x.vscode-cdn.net', 'abc123'));
  assert.equal(
    csp,
    "default-src 'none'; img-src https://x.vscode-cdn.net data:; style-src https://x.vscode-cdn.net 'nonce-abc123'; font-src https://x.vscode-cdn.net; script-src 'nonce-abc123'",
  );
  const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
  assert.deepEqual(scripts, [' nonce="abc123" src="https://x.vscode-cdn.net/dist/webview/report.js"']);
  assert.match(html, /<meta property="csp-nonce" content="abc123">/);
  assert.doesNotMatch(html, /unsafe-inline|unsafe-eval/);
});

test('panel HTML escapes what it interpolates', () => {
  const html = panelHtml({ title: '<x>"', cspSource: 's', scriptUri: 'a"b', styleUri: 'c', nonce: 'n' });
  assert.match(html, /<title>&lt;x>&quot;<\/title>/);
  assert.match(html, /src="a&quot;b"/);
});
