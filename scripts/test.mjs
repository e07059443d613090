// The whole suite, in tiers (see docs/architecture.md): type check, imports, lint, format check, then kernels/engine/language server/webviews
// under node's test runner (TypeScript through tsx), then the end-to-end suite in a real VS Code.
// Usage: npm test [-- <path-filter>...]   e.g. npm test -- test/unit/native
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const results = { passed: 0, failed: 0, skipped: 0 };
const stages = [];

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  return r.status ?? 1;
}
function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

// 0. Debian packages the Chromium and VS Code tiers need, installed once here (not by two test files
//    racing for the dpkg lock). A fresh machine gets them; an installed one skips this.
function ensureDebianPackages() {
  const missing = [
    ['chromium', '/usr/bin/chromium'],
    ['libkrb5-dev', '/usr/include/krb5.h'],
  ]
    .filter(([, f]) => !existsSync(f))
    .map(([p]) => p);
  if (!missing.length) return 0;
  if (process.getuid?.() !== 0) {
    console.error(`missing Debian packages: ${missing.join(' ')} (run: sudo apt-get install -y ${missing.join(' ')})`);
    return 1;
  }
  console.log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  return (
    run('apt-get', ['update', '-qq'], { env }) ||
    run('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=300', ...missing], { env })
  );
}
{
  const rc = ensureDebianPackages();
  if (rc !== 0) {
    stages.push(['debian packages', rc]);
    results.failed++;
  }
}

// 1. Types.
if (!filters.length) {
  const rc = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
  stages.push(['typecheck', rc]);
  if (rc === 0) results.passed++;
  else results.failed++;
}

// 1b. Imports: no cycles, and the direction between parts in scripts/importRules.mjs.
if (!filters.length) {
  const rc = run(process.execPath, [join(root, 'scripts/checkImports.mjs')]);
  stages.push(['imports (cycles and part rules)', rc]);
  if (rc === 0) results.passed++;
  else results.failed++;
}

// 1c. Lint (eslint.config.mjs: rules that catch bugs) and format (Prettier, .prettierrc.json), both cached.
if (!filters.length) {
  const lint = run(process.execPath, [
    join(root, 'node_modules/eslint/bin/eslint.js'),
    '--cache',
    '--cache-location',
    'node_modules/.cache/eslint/',
    '.',
  ]);
  stages.push(['lint', lint]);
  const format = run(process.execPath, [join(root, 'scripts/format.mjs'), '--check']);
  stages.push(['format', format]);
  for (const rc of [lint, format]) {
    if (rc === 0) results.passed++;
    else results.failed++;
  }
}

// 2. Node-side tiers: kernels, engine, language server over stdio, webviews in Chromium.
const files = findTests(join(root, 'test'))
  .filter((f) => !f.startsWith('test/e2e/'))
  .filter((f) => !filters.length || filters.some((x) => f.startsWith(x) || f.includes(x)));
if (files.length) {
  mkdirSync(join(root, 'test-results'), { recursive: true });
  const tap = join(root, 'test-results/node.tap');
  const rc = run(process.execPath, [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ]);
  stages.push(['node tests', rc]);
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const count = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)`, 'm')) || [])[1] || 0);
  results.passed += count('pass');
  results.failed += count('fail') + count('cancelled');
  results.skipped += count('skipped');
  if (rc !== 0 && count('fail') + count('cancelled') === 0) results.failed++;
}

// 3. End to end in a real VS Code (code-server + Chromium), unless filtered out.
const e2e = join(root, 'scripts/e2e.mjs');
if (existsSync(e2e) && (!filters.length || filters.some((x) => x.startsWith('test/e2e')))) {
  const r = spawnSync(process.execPath, [e2e], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  const rc = r.status ?? 1;
  stages.push(['e2e (real VS Code)', rc]);
  const summary = join(root, 'test-results/e2e/summary.json');
  if (existsSync(summary)) {
    const s = JSON.parse(readFileSync(summary, 'utf8'));
    results.passed += s.passed;
    results.failed += s.failed;
    results.skipped += s.skipped ?? 0;
  }
  if (rc !== 0 && !existsSync(summary)) results.failed++;
}

for (const [name, rc] of stages) console.log(`${rc === 0 ? 'ok  ' : 'FAIL'} ${name}`);
const ok = stages.length > 0 && stages.every(([, rc]) => rc === 0);
console.log(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
process.exit(ok ? 0 : 1);
