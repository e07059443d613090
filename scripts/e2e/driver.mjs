// Drives the code-server workbench in Debian chromium (playwright-core):
//  phase 1 opens an Extension Development Host with the suite as extensionTestsPath (smoke-test-driver
//  payload trick) and waits for window.codeAutomationExit; phase 2 drives the UI through the command
//  palette and reads the panels' DOM inside their webview frames, with screenshots.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ARGS = [
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

function workbenchUrl(base, ws, payload) {
  return `${base}/?folder=${encodeURIComponent(ws)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
async function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
}

/** Phase 1: runs the mocha suite in the real extension host; returns its exit code (or 'timeout'). */
export async function runSuite({ base, ext, tests, ws, out, timeoutMs = 540_000 }) {
  const remote = (p) => `vscode-remote://${new URL(base).host}${p}`;
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let done;
    const exited = new Promise((r) => (done = r));
    await page.exposeFunction('codeAutomationLog', () => {});
    await page.exposeFunction('codeAutomationExit', (code) => done(code));
    // A loaded machine can take longer than playwright's default 30 s to serve the workbench.
    await page.goto(
      workbenchUrl(base, ws, [
        ['extensionDevelopmentPath', remote(ext)],
        ['extensionTestsPath', remote(tests)],
      ]),
      { timeout: 180_000 },
    );
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), timeoutMs))]);
    await page.screenshot({ path: join(out, 'suite-end.png') }).catch(() => {});
    return code;
  } finally {
    await browser.close();
  }
}

/** Phase 2: UI checks; returns [{title, state, error?}]. */
export async function runUi({ base, ext, ws, out }) {
  const remote = (p) => `vscode-remote://${new URL(base).host}${p}`;
  const results = [];
  const browser = await launch();
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  const check = async (title, f) => {
    try {
      await f();
      results.push({ title: `ui: ${title}`, state: 'passed' });
    } catch (e) {
      results.push({
        title: `ui: ${title}`,
        state: 'failed',
        error: String(e?.message ?? e)
          .split('\n')
          .slice(0, 4)
          .join(' '),
      });
      await page.screenshot({ path: join(out, `ui-failure-${results.length}.png`) }).catch(() => {});
    }
  };
  const palette = async (text) => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { timeout: 10_000 });
    await page.keyboard.type(text);
    await page.waitForTimeout(600);
    await page.keyboard.press('Enter');
  };
  /** The frame whose document is our panel (webview → #active-frame), found by its <title>. */
  const panelFrame = async (title, ms = 30_000) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      for (const f of page.frames()) {
        const t = await f.evaluate(() => document.title).catch(() => '');
        if (t === title) return f;
      }
      await page.waitForTimeout(300);
    }
    throw new Error(`no webview titled '${title}' appeared`);
  };
  try {
    await page.goto(workbenchUrl(base, ws, [['extensionDevelopmentPath', remote(ext)]]));
    await page.waitForSelector('.monaco-workbench .statusbar', { timeout: 90_000 });
    await check('status bar shows the Lowbit server item', async () => {
      await page.locator('.statusbar-item', { hasText: 'Lowbit' }).first().waitFor({ timeout: 60_000 });
    });
    await check('open the recipe from Quick Open; the editor shows it', async () => {
      await page.keyboard.press('Control+P');
      await page.waitForSelector('.quick-input-widget input', { timeout: 10_000 });
      await page.keyboard.type('stories.lowbit.yaml');
      // Enter only once the file search has listed the recipe (it may still be indexing the workspace).
      const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'stories.lowbit.yaml' }).first();
      await row.waitFor({ timeout: 30_000 });
      await page.waitForTimeout(300);
      await page.keyboard.press('Enter');
      await page.locator('.tab', { hasText: 'stories.lowbit.yaml' }).first().waitFor({ timeout: 20_000 });
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(out, 'ui-recipe.png') });
    });
    // The report panel may still show the previous recipe's report while the new one is on its way
    // (the panel is reused): wait for the wanted numbers rather than reading the row once.
    const perplexityRow = async (f, [fp, q]) => {
      const want = JSON.stringify(['Perplexity', fp.toFixed(3), q.toFixed(3)]);
      const row = f.locator('#metrics tr[data-metric="Perplexity"] td');
      let cells = '';
      for (const t0 = Date.now(); Date.now() - t0 < 20_000; await page.waitForTimeout(250)) {
        cells = JSON.stringify(await row.allTextContents());
        if (cells === want) return;
      }
      throw new Error(`perplexity row ${cells} != ${want}`);
    };
    const expectedPath = join(out, 'expected-report.json');
    const expected = existsSync(expectedPath) ? JSON.parse(readFileSync(expectedPath, 'utf8')) : null;
    // With a finished run (the suite's compress test), the panel must show that run's numbers;
    // without one it must say there is no report yet.
    await check(
      expected ? "Lowbit: Show Report renders the run's numbers" : 'Lowbit: Show Report without a finished run says so',
      async () => {
        await palette('Lowbit: Show Report');
        const f = await panelFrame('Lowbit Report');
        if (!expected) {
          await f.locator('#error', { hasText: 'No report yet' }).waitFor({ timeout: 20_000 });
          return;
        }
        await perplexityRow(f, [expected.perplexity[0], expected.perplexity[1]]);
        const rows = await f.locator('#layer-table tbody tr').count();
        if (rows !== 36) throw new Error(`layer table has ${rows} rows, expected 36`);
        await page.waitForTimeout(500);
        await page.screenshot({ path: join(out, 'ui-report.png') });
      },
    );
    // Recorded reports: the panels inside VS Code render the same numbers as in the Chromium tier.
    const openFile = async (name) => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+P');
      await page.waitForSelector('.quick-input-widget input', { timeout: 10_000 });
      await page.keyboard.type(name);
      await page.waitForTimeout(800);
      await page.keyboard.press('Enter');
      await page.locator('.tab', { hasText: name }).first().waitFor({ timeout: 20_000 });
      await page.locator('.tab', { hasText: name }).first().click();
      await page.waitForTimeout(500);
    };
    const fixture = (n) => JSON.parse(readFileSync(new URL(`../../test/fixtures/reports/${n}.report.json`, import.meta.url), 'utf8'));
    await check('recorded gptq report: Show Report shows its metrics, 36 layers and the run history', async () => {
      const r = fixture('stories260K-gptq-w4');
      await openFile('recorded-gptq.lowbit.yaml');
      await palette('Lowbit: Show Report');
      const f = await panelFrame('Lowbit Report');
      await perplexityRow(f, [r.metrics.fp.perplexity, r.metrics.quantized.perplexity]);
      const rows = await f.locator('#layer-table tbody tr').count();
      if (rows !== r.layers.length) throw new Error(`layer table has ${rows} rows, expected ${r.layers.length}`);
      await f.locator('#compare').waitFor({ timeout: 10_000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(out, 'ui-report-recorded.png') });
    });
    await check('recorded billm report: Show Hessian Saliency draws the heatmap and salient columns', async () => {
      const r = fixture('stories260K-billm');
      await openFile('recorded-billm.lowbit.yaml');
      await palette('Lowbit: Show Hessian Saliency');
      const f = await panelFrame('Lowbit Hessian Saliency');
      const want = `Salient columns (${r.layers[0].binarization.salient_columns.length}): ${r.layers[0].binarization.salient_columns.join(', ')}`;
      await f.locator('#salient', { hasText: want }).waitFor({ timeout: 20_000 });
      await f.locator('#heatmap canvas.heatmap').waitFor({ timeout: 5_000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(out, 'ui-saliency-recorded.png') });
    });
    await check('recorded flrq report: Show Rank Allocation lists every low-rank layer', async () => {
      const r = fixture('stories260K-flrq');
      await openFile('recorded-flrq.lowbit.yaml');
      await palette('Lowbit: Show Rank Allocation');
      const f = await panelFrame('Lowbit Rank Allocation');
      const n = r.layers.filter((l) => l.low_rank).length;
      await f
        .locator('#layer-table tbody tr')
        .nth(n - 1)
        .waitFor({ timeout: 20_000 });
      const rows = await f.locator('#layer-table tbody tr').count();
      if (rows !== n) throw new Error(`rank table has ${rows} rows, expected ${n}`);
      await page.waitForTimeout(500);
      await page.screenshot({ path: join(out, 'ui-ranks-recorded.png') });
    });
    for (const [cmd, title] of [
      ['Lowbit: Show Layer Sensitivity', 'Lowbit Layer Sensitivity'],
      ['Lowbit: Show Hessian Saliency', 'Lowbit Hessian Saliency'],
      ['Lowbit: Show Rank Allocation', 'Lowbit Rank Allocation'],
    ]) {
      await check(`${cmd} opens its panel`, async () => {
        await palette(cmd);
        const f = await panelFrame(title);
        await f.locator('h1, #error').first().waitFor({ timeout: 20_000 });
        await page.waitForTimeout(500);
        await page.screenshot({ path: join(out, `ui-${title.split(' ').slice(1).join('-').toLowerCase()}.png`) });
      });
    }
  } catch (e) {
    results.push({ title: 'ui: workbench', state: 'failed', error: String(e?.message ?? e) });
    await page.screenshot({ path: join(out, 'ui-failure.png') }).catch(() => {});
  } finally {
    await browser.close();
  }
  return results;
}
