// The real-VS-Code end-to-end tier: installs its toolchain once (scripts/e2e/setup.mjs), builds the
// extension and bundles test/e2e/suite, generates a workspace, starts code-server (VS Code 1.139)
// with the smoke-test driver, runs the mocha suite in the real extension host, then a UI phase
// (command palette + webviews, screenshots). Writes test-results/e2e/summary.json {passed, failed,
// skipped} and exits non-zero on any failure. Last, it packages the .vsix and installs it into code-server.   Usage: node scripts/e2e.mjs
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync, mkdtempSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ensureToolchain } from './e2e/setup.mjs';
import { makeWorkspace } from './e2e/workspace.mjs';
import { runSuite, runUi } from './e2e/driver.mjs';
import { checkPackage } from './e2e/package.mjs';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const out = join(root, 'test-results/e2e');
const t0 = Date.now();
const log = (m) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);

function writeSummary(s) {
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'summary.json'), JSON.stringify(s, null, 2));
}

/** The extension client and the panels, as scripts/build.mjs bundles them. */
async function buildOwnBundles() {
  const { readdirSync } = await import('node:fs');
  await build({
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    external: ['vscode', 'onnxruntime-node', '@napi-rs/canvas'],
    entryPoints: [join(root, 'extension/src/main.ts')],
    outfile: join(root, 'dist/extension.js'),
  });
  const dir = join(root, 'webview/src/panels');
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
    outdir: join(root, 'dist/webview'),
    loader: { '.css': 'text' },
  });
}

async function freePort() {
  return new Promise((r) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => r(p));
    });
  });
}

async function main() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tc = ensureToolchain();
  log(`toolchain ready in ${tc.home}`);
  // Build: the whole project (scripts/build.mjs) — the extension needs dist/server.js and the panels.
  const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' });
  if (b.status !== 0) {
    // Another area may be mid-change: report it, still build our own bundles, and let the suite say what works.
    const errs = (b.stderr || b.stdout).split('\n').filter((l) => /ERROR/.test(l));
    log(
      `WARNING: scripts/build.mjs failed (${[...new Set(errs)].slice(0, 3).join(' | ')}); building the extension and panels alone, keeping any existing dist/server.js`,
    );
    await buildOwnBundles();
  }
  for (const f of ['dist/extension.js', 'dist/server.js', 'dist/webview/report.js'])
    if (!existsSync(join(root, f))) throw new Error(`${f} missing after the build`);
  // Bundle the suite for the extension host (vscode and mocha stay external: mocha resolves from node_modules).
  const tests = join(root, 'out/e2e/suite/index.js');
  await build({
    entryPoints: [join(root, 'test/e2e/suite/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: tests,
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  const { ws, hasModel } = makeWorkspace(root);
  if (!hasModel) log('../shared/models/stories260K is absent: model-dependent e2e tests will be skipped');
  const port = await freePort();
  const tmp = mkdtempSync(join(tmpdir(), 'lowbit-cs-'));
  const logFd = openSync(join(out, 'code-server.log'), 'w');
  const cs = spawn(
    tc.node24,
    [
      tc.codeServer,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      join(tmp, 'ud'),
      '--extensions-dir',
      join(tmp, 'exts'),
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--vscode-option',
      'enable-smoke-test-driver',
      ws,
    ],
    {
      env: { ...process.env, XDG_CONFIG_HOME: join(tmp, 'cfg'), LOWBIT_E2E_OUT: out, LOWBIT_E2E_WS: ws },
      stdio: ['ignore', logFd, logFd],
      detached: false,
    },
  );
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if (
        await fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      if (i > 300) throw new Error(`code-server did not come up; see ${join(out, 'code-server.log')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    log(`code-server up at ${base}; running the extension-host suite`);
    // The budget suite suggests and runs on stories260K: allow it time on a loaded machine.
    const code = await runSuite({ base, ext: root, tests, ws, out, timeoutMs: 900_000 });
    log(`extension-host suite exit=${code}`);
    const resPath = join(out, 'results.json');
    const suite = existsSync(resPath)
      ? JSON.parse(readFileSync(resPath, 'utf8'))
      : {
          passed: 0,
          failed: 1,
          skipped: 0,
          tests: [{ title: 'extension-host suite', state: 'failed', error: `no results (exit ${code})` }],
        };
    log('UI phase');
    const ui = await runUi({ base, ext: root, ws, out });
    log('packaging check');
    const pkg = checkPackage(root, tc);
    const all = [...suite.tests, ...ui, pkg];
    const summary = {
      passed: all.filter((t) => t.state === 'passed').length,
      failed: all.filter((t) => t.state === 'failed').length + (code !== 0 && !suite.failed ? 1 : 0),
      skipped: all.filter((t) => t.state === 'skipped').length,
      tests: all,
    };
    writeSummary(summary);
    for (const t of all)
      console.log(
        `${t.state === 'passed' ? '  ok  ' : t.state === 'skipped' ? '  skip' : '  FAIL'} ${t.title}${t.error ? `\n        ${t.error.split('\n').slice(0, 3).join('\n        ')}` : ''}`,
      );
    log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped (screenshots in ${out})`);
    return summary.failed ? 1 : 0;
  } finally {
    cs.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
    rmSync(ws, { recursive: true, force: true });
  }
}

main().then(
  (rc) => process.exit(rc),
  (e) => {
    console.error(`e2e: ${e?.stack ?? e}`);
    writeSummary({ passed: 0, failed: 1, skipped: 0, tests: [{ title: 'e2e harness', state: 'failed', error: String(e?.message ?? e) }] });
    process.exit(1);
  },
);
