/**
 * The HTML shell of every Lowbit panel: strict CSP with a fresh crypto nonce, one stylesheet from
 * media/, one script bundle from dist/webview/. The csp-nonce meta lets the toolkit (FAST) add its
 * own <style> probes under the same nonce instead of needing 'unsafe-inline'. Pure (no vscode import) so tests load the very same page.
 */
import { randomBytes } from 'node:crypto';

export interface PanelHtmlOptions {
  title: string;
  /** `webview.cspSource` (the origin the webview serves local resources from). */
  cspSource: string;
  /** URI of dist/webview/<panel>.js as the webview sees it. */
  scriptUri: string;
  /** URI of media/panel.css as the webview sees it. */
  styleUri: string;
  nonce?: string;
}

/** A fresh nonce: 128 random bits, base64. */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

/** The Content-Security-Policy of a panel page. */
export function panelCsp(cspSource: string, nonce: string): string {
  return [
    `default-src 'none'`,
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** The full panel page. */
export function panelHtml(o: PanelHtmlOptions): string {
  const nonce = o.nonce ?? makeNonce();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(panelCsp(o.cspSource, nonce))}">
<meta property="csp-nonce" content="${nonce}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(o.styleUri)}" nonce="${nonce}">
<title>${escapeAttr(o.title)}</title>
</head>
<body>
<main id="app" aria-live="polite"></main>
<script nonce="${nonce}" src="${escapeAttr(o.scriptUri)}"></script>
</body>
</html>`;
}
