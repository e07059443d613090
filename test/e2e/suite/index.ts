/**
 * Extension-host entry of the e2e suite (the `extensionTestsPath` contract shared by
 * @vscode/test-electron and the code-server harness): runs the mocha suites inside the real
 * extension host and writes results.json (passed/failed/skipped + each test) to $LOWBIT_E2E_OUT.
 */
import Mocha from 'mocha';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export async function run(): Promise<void> {
  // LOWBIT_E2E_GREP runs only the tests whose title matches (a quicker loop while working on one suite).
  const mocha = new Mocha({ ui: 'tdd', timeout: 120_000, color: false, reporter: 'spec', grep: process.env.LOWBIT_E2E_GREP });
  // The suites are bundled into this file: register mocha's globals, then load them in order.
  mocha.suite.emit('pre-require', globalThis, 'lowbit-e2e', mocha);
  require('./activation.test');
  require('./compress.test');
  require('./panels.test');
  require('./budget.test');
  const results = { passed: 0, failed: 0, skipped: 0, tests: [] as { title: string; state: string; error?: string; ms?: number }[] };
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', (t) => {
      results.passed++;
      results.tests.push({ title: t.fullTitle(), state: 'passed', ms: t.duration });
    });
    runner.on('fail', (t, err: Error) => {
      results.failed++;
      results.tests.push({ title: t.fullTitle(), state: 'failed', error: String(err?.stack ?? err).slice(0, 2000) });
    });
    runner.on('pending', (t) => {
      results.skipped++;
      results.tests.push({ title: t.fullTitle(), state: 'skipped' });
    });
  });
  const out = process.env.LOWBIT_E2E_OUT;
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2));
  }
  if (results.failed) throw new Error(`${results.failed} e2e test(s) failed`);
}
