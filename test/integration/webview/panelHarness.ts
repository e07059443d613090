/**
 * Loads a Lowbit panel in real headless Chromium exactly as VS Code would: the same HTML shell and
 * CSP (extension/src/panels/html.ts), the bundled dist/webview/<kind>.js and media/panel.css served
 * from a local origin, and a recording `acquireVsCodeApi`. Installs Debian chromium when missing (root).
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, existsSync, mkdirSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { join, resolve, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { panelHtml } from '../../../extension/src/panels/html';
import type { PanelKind, ToWebview } from '../../../webview/src/protocol';

export const repoRoot = resolve(import.meta.dirname, '../../..');
export const fixtures = join(repoRoot, 'test/fixtures/reports');
export const shotsDir = join(repoRoot, 'test-results/webview');
const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Installs Debian chromium if it is missing (CI machines are fresh); never silently skips. */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing and we are not root: run 'sudo apt-get install -y chromium'`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=300', 'chromium'],
  ]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: ${r.stderr}`);
  }
}

/**
 * Bundles the panels exactly as scripts/build.mjs does (every webview/src/panels/<name>.ts →
 * <outdir>/<name>.js, served as dist/webview/), so every run tests the current sources; a private
 * folder per test process keeps parallel test files from racing on the same output.
 */
export async function buildPanels(outdir: string): Promise<void> {
  const dir = join(repoRoot, 'webview/src/panels');
  await build({
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
    entryPoints: readdirSync(dir)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => join(dir, f)),
    outdir,
    loader: { '.css': 'text' },
  });
}

/** Reads a recorded report fixture. */
export function fixture(name: string): any {
  return JSON.parse(readFileSync(join(fixtures, `${name}.report.json`), 'utf8'));
}

export interface PanelPage {
  page: Page;
  /** Messages the panel posted to the "extension host", in order. */
  posted(): Promise<any[]>;
  /** Sends a host → webview message. */
  send(msg: ToWebview | Record<string, unknown>): Promise<void>;
  /** CSP violations, page errors, and requests that left the local origin. */
  problems: string[];
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
}

export interface Harness {
  open(kind: PanelKind, opts?: { theme?: 'dark' | 'light' | 'high-contrast'; state?: unknown }): Promise<PanelPage>;
  close(): Promise<void>;
}

const THEMES = {
  dark: {
    cls: 'vscode-dark',
    vars: '--vscode-foreground:#cccccc;--vscode-editor-background:#1e1e1e;--vscode-descriptionForeground:#9d9d9d;--vscode-editorWidget-border:#454545;--vscode-charts-blue:#3794ff;--vscode-charts-orange:#d18616;--vscode-charts-red:#f14c4c;--vscode-charts-green:#89d185;--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-editor-font-family:monospace;--vscode-list-hoverBackground:#2a2d2e',
  },
  light: {
    cls: 'vscode-light',
    vars: '--vscode-foreground:#3b3b3b;--vscode-editor-background:#ffffff;--vscode-descriptionForeground:#717171;--vscode-editorWidget-border:#c8c8c8;--vscode-charts-blue:#1a85ff;--vscode-charts-orange:#d18616;--vscode-charts-red:#e51400;--vscode-charts-green:#388a34;--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-editor-font-family:monospace;--vscode-list-hoverBackground:#e8e8e8',
  },
  'high-contrast': {
    cls: 'vscode-high-contrast',
    vars: '--vscode-foreground:#ffffff;--vscode-editor-background:#000000;--vscode-descriptionForeground:#ffffff;--vscode-editorWidget-border:#6fc3df;--vscode-contrastBorder:#6fc3df;--vscode-charts-blue:#3794ff;--vscode-charts-orange:#d18616;--vscode-charts-red:#f14c4c;--vscode-charts-green:#89d185;--vscode-font-family:sans-serif;--vscode-font-size:13px;--vscode-editor-font-family:monospace',
  },
};

/** Starts the local origin and Chromium. */
export async function startHarness(): Promise<Harness> {
  ensureChromium();
  const bundles = mkdtempSync(join(tmpdir(), 'lowbit-panels-'));
  await buildPanels(bundles);
  mkdirSync(shotsDir, { recursive: true });
  let origin = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/panel.html') {
      const kind = url.searchParams.get('kind') ?? 'report';
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        panelHtml({
          title: kind,
          cspSource: origin,
          scriptUri: `${origin}/dist/webview/${kind}.js`,
          styleUri: `${origin}/media/panel.css`,
        }),
      );
      return;
    }
    const p = normalize(decodeURIComponent(url.pathname)).replace(/^\/+/, '');
    const file = p.startsWith('dist/webview/')
      ? join(bundles, p.slice('dist/webview/'.length))
      : p.startsWith('media/')
        ? join(repoRoot, p)
        : '';
    if (!file || !existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    const type = p.endsWith('.js') ? 'text/javascript' : p.endsWith('.css') ? 'text/css' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });

  async function open(kind: PanelKind, opts: { theme?: keyof typeof THEMES; state?: unknown } = {}): Promise<PanelPage> {
    const theme = THEMES[opts.theme ?? 'dark'];
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`remote request: ${r.url()}`);
    });
    page.on('console', (m) => {
      if (m.type() === 'error' && !/favicon/.test(m.location().url)) problems.push(`console: ${m.text()}`);
    });
    // What VS Code injects into a webview: acquireVsCodeApi, theme class on <body>, theme CSS variables.
    // (A string, not a function: the test's TS transform would inject helpers the page lacks.)
    await page.addInitScript(`(() => {
      const w = window; w.__posted = []; w.__state = ${JSON.stringify(opts.state ?? null)};
      w.acquireVsCodeApi = () => ({ postMessage: (m) => w.__posted.push(JSON.parse(JSON.stringify(m))),
        getState: () => w.__state, setState: (s) => { w.__state = JSON.parse(JSON.stringify(s)); } });
      document.addEventListener('securitypolicyviolation', (e) => w.__posted.push({ csp: e.violatedDirective, sample: e.sample, source: e.sourceFile + ':' + e.lineNumber }));
      document.addEventListener('DOMContentLoaded', () => {
        document.body.classList.add(${JSON.stringify(theme.cls)});
        for (const decl of ${JSON.stringify(theme.vars)}.split(';')) { const [k, v] = decl.split(':'); document.documentElement.style.setProperty(k, v); }
      });
    })();`);
    await page.goto(`${origin}/panel.html?kind=${kind}`);
    await page
      .waitForFunction(() => (window as any).__posted.some((m: any) => m.type === 'ready'), undefined, { timeout: 15000 })
      .catch((e) => {
        throw new Error(`${kind} panel never posted ready: ${problems.join('; ') || e.message}`);
      });
    return {
      page,
      problems,
      posted: () => page.evaluate(() => (window as any).__posted),
      // Resolves once the panel has handled the message: a listener added now runs after the panel's
      // own listener for the same event (window.postMessage itself returns before any handler runs).
      send: async (msg) => {
        await page.evaluate(
          (m) =>
            new Promise<void>((resolve) => {
              window.addEventListener('message', () => resolve(), { once: true });
              window.postMessage(m, '*');
            }),
          msg,
        );
      },
      screenshot: async (name) => {
        await page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage: true });
      },
      close: () => page.close(),
    };
  }
  return {
    open,
    close: async () => {
      await browser.close();
      await new Promise((r) => server.close(r));
      rmSync(bundles, { recursive: true, force: true });
    },
  };
}
