/**
 * The same e2e suite under @vscode/test-electron, for machines that can download VS Code
 * (these CI machines cannot: there, scripts/e2e.mjs runs it in code-server instead).
 * Usage: npm run build && node --import tsx test/e2e/runTest.ts
 */
import { runTests } from '@vscode/test-electron';
import { build } from 'esbuild';
import { join, resolve } from 'node:path';
// @ts-expect-error: plain ESM helper without types
import { makeWorkspace } from '../../scripts/e2e/workspace.mjs';

async function main(): Promise<void> {
  const root = resolve(import.meta.dirname, '../..');
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
  const { ws } = makeWorkspace(root) as { ws: string };
  const out = join(root, 'test-results/e2e-electron');
  await runTests({
    extensionDevelopmentPath: root,
    extensionTestsPath: tests,
    launchArgs: [ws, '--disable-extensions', '--disable-workspace-trust'],
    extensionTestsEnv: { LOWBIT_E2E_OUT: out, LOWBIT_E2E_WS: ws },
  });
}

main().catch((e) => {
  console.error(`e2e (test-electron) failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
