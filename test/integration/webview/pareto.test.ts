import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from './panelHarness';
import { paretoView, pointRules } from '../../../extension/src/panels/paretoView';
import type { SuggestResult } from '../../../protocol/budget';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

/** A two-layer, two-candidate suggestion (shapes as the engine returns them). */
function suggestion(): SuggestResult {
  const cands = [
    { method: 'gptq' as const, bits: 2, groupSize: 32, label: 'gptq 2-bit g32' },
    { method: 'gptq' as const, bits: 4, groupSize: -1, label: 'gptq 4-bit per-row' },
  ];
  return {
    recipe: '/r.lowbit.yaml',
    format: 'matmulnbits',
    target: { kind: 'bits_per_weight', value: 3.5 },
    estimate: 'kl',
    capacityBytes: 1000,
    fileTarget: 11000,
    params: 2400,
    fixedBytes: 10000,
    candidates: cands,
    layers: [
      {
        name: 'a',
        params: 1200,
        bytes: [450, 700],
        stored: ['matmulnbits', 'matmulnbits'],
        loss: [0.5, 0.01],
        proxy: [2, 0.1],
        kl: [0.5, 0.01],
        chosen: 1,
      },
      {
        name: 'b',
        params: 1200,
        bytes: [450, 700],
        stored: ['matmulnbits', 'matmulnbits'],
        loss: [0.2, 0.05],
        proxy: [1, 0.3],
        kl: [0.2, 0.05],
        chosen: 0,
      },
    ],
    chosen: { label: 'suggested', bytes: 1150, fileBytes: 11150, bitsPerWeight: 3.83, loss: 0.21, fits: true },
    uniform: [
      {
        label: cands[0].label,
        bytes: 900,
        fileBytes: 10900,
        bitsPerWeight: 3.0,
        loss: 0.7,
        fits: true,
        yaml: '  - match: "*"\n    bits: 2\n',
      },
      {
        label: cands[1].label,
        bytes: 1400,
        fileBytes: 11400,
        bitsPerWeight: 4.67,
        loss: 0.06,
        fits: false,
        yaml: '  - match: "*"\n    bits: 4\n',
      },
    ],
    frontier: [
      { bytes: 900, bitsPerWeight: 3.0, loss: 0.7, choice: [0, 0], yaml: 'f0' },
      { bytes: 1150, bitsPerWeight: 3.83, loss: 0.21, choice: [1, 0], yaml: 'f1' },
      { bytes: 1400, bitsPerWeight: 4.67, loss: 0.06, choice: [1, 1], yaml: 'f2' },
    ],
    knapsack: { exact: true, unit: 1, boundBytes: 1000 },
    rules: [],
    yaml: 'chosen-yaml',
    seed: 0,
    created_at: '2026-01-01T00:00:00.000Z',
  };
}

test('pareto panel: candidates, frontier and suggested point; a row click previews that point', async () => {
  const p = await h.open('pareto');
  assert.equal(await p.page.locator('#status').textContent(), 'no suggestion');
  const s = suggestion();
  await p.send({ type: 'pareto', view: paretoView(s) });
  assert.equal(await p.page.locator('#status').textContent(), 'suggested');
  assert.match((await p.page.locator('#summary').textContent()) ?? '', /3\.5 bits\/weight as matmulnbits: suggested 3\.83 bits\/weight/);
  assert.equal(await p.page.locator('#point-table tbody tr').count(), 3);
  assert.ok(await p.page.locator('#pareto-chart').isVisible());
  await p.page.locator('#point-table tr[data-layer="gptq 4-bit per-row"]').click();
  assert.deepEqual((await p.posted()).at(-1), { type: 'previewPoint', set: 'uniform', index: 1 });
  // What the host does with that click: the point's own rules.
  assert.equal(pointRules(s, { set: 'uniform', index: 1 }).yaml, s.uniform[1].yaml);
  assert.equal(pointRules(s, { set: 'frontier', index: 2 }).yaml, 'f2');
  assert.throws(() => pointRules(s, { set: 'frontier', index: 9 }), /No frontier point 9/);
  await p.screenshot('pareto-dark');
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('pareto panel: the measured point after a run; bad views are rejected and named', async () => {
  const p = await h.open('pareto', { theme: 'light' });
  const s = suggestion();
  const report = {
    created_at: '2026-01-02T00:00:00.000Z',
    format: 'matmulnbits',
    metrics: { fp: {}, quantized: { perplexity: 20.5 }, kl_divergence: { mean: 0.31, p50: 0, p99: 0, max: 0 } },
    size: { quantized_bytes: 11150 },
  } as never;
  const view = paretoView(s, report);
  assert.deepEqual(view.measured, { bitsPerWeight: ((11150 - 10000) * 8) / 2400, kl: 0.31, perplexity: 20.5 });
  // A report older than the suggestion is not its run.
  assert.equal(paretoView(s, { ...(report as object), created_at: '2025-12-31T00:00:00.000Z' } as never).measured, undefined);
  await p.send({ type: 'pareto', view });
  assert.equal(await p.page.locator('#status').textContent(), 'measured');
  assert.match((await p.page.locator('#summary').textContent()) ?? '', /measured 3\.83 bits\/weight, KL 0\.3100, perplexity 20\.50/);
  await p.send({ type: 'pareto', view: { ...view, frontier: [{ label: 'x', bitsPerWeight: 'wide', loss: 1, fits: true }] } });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /frontier\[0\] must be \{label, bitsPerWeight, loss, fits\}/);
  assert.equal(await p.page.locator('#status').textContent(), 'measured');
  await p.screenshot('pareto-light');
  await p.close();
});

/** Where point `index` of set `set` is drawn, in page coordinates (from the canvas's data-points after the chart rendered). */
async function pointAt(page: import('playwright-core').Page, set: number, index: number): Promise<{ x: number; y: number }> {
  const canvas = page.locator('#pareto-chart');
  await page.waitForFunction(() => (document.getElementById('pareto-chart') as HTMLCanvasElement | null)?.dataset.points);
  const drawn = JSON.parse((await canvas.getAttribute('data-points'))!) as { set: number; index: number; x: number; y: number }[];
  const p = drawn.find((d) => d.set === set && d.index === index);
  assert.ok(p, `point ${set}/${index} drawn (${JSON.stringify(drawn)})`);
  const box = (await canvas.boundingBox())!;
  return { x: box.x + p.x, y: box.y + p.y };
}

test("pareto panel: a click on a chart point previews that point's rules (the topmost where points overlap)", async () => {
  const p = await h.open('pareto');
  const s = suggestion();
  // A frontier whose middle point stands alone; its ends sit under the uniform candidates and the suggested star.
  s.frontier = [
    { bytes: 900, bitsPerWeight: 3.0, loss: 0.7, choice: [0, 0], yaml: 'frontier-0' },
    { bytes: 1150, bitsPerWeight: 3.4, loss: 0.3, choice: [0, 1], yaml: 'frontier-1' },
    { bytes: 1150, bitsPerWeight: 3.83, loss: 0.21, choice: [1, 0], yaml: 'frontier-2' },
  ];
  await p.send({ type: 'pareto', view: paretoView(s) });
  assert.match((await p.page.locator('#picked').textContent()) ?? '', /Click a point/);
  const clicks: [number, number, { set: string; index: number }, string, RegExp][] = [
    // [dataset, index] clicked → the pick posted → the rules the host previews → what the panel says.
    [0, 1, { set: 'uniform', index: 1 }, s.uniform[1].yaml!, /gptq 4-bit per-row \(4\.67 bits\/weight\)/],
    [1, 1, { set: 'frontier', index: 1 }, 'frontier-1', /frontier point 2 \(3\.40 bits\/weight\)/],
    [2, 0, { set: 'chosen', index: 0 }, 'chosen-yaml', /suggested \(3\.83 bits\/weight\)/],
    // The uniform 2-bit square and the first frontier point coincide: the frontier point is drawn on top.
    [0, 0, { set: 'frontier', index: 0 }, 'frontier-0', /frontier point 1 \(3\.00 bits\/weight\)/],
  ];
  for (const [set, index, want, yaml, says] of clicks) {
    const at = await pointAt(p.page, set, index);
    const before = (await p.posted()).length;
    await p.page.mouse.click(at.x, at.y);
    // Chart.js handles canvas events on the next animation frame.
    await p.page.waitForFunction((n) => (window as any).__posted.length > n, before, { timeout: 5000 }).catch(() => {});
    const posted = await p.posted();
    assert.equal(posted.length, before + 1, `one message for the click on ${set}/${index}`);
    assert.deepEqual(posted.at(-1), { type: 'previewPoint', ...want });
    assert.equal(pointRules(s, want as never).yaml, yaml);
    assert.match((await p.page.locator('#picked').textContent()) ?? '', says);
  }
  // Empty canvas: nothing is previewed.
  const box = (await p.page.locator('#pareto-chart').boundingBox())!;
  const before = (await p.posted()).length;
  await p.page.mouse.click(box.x + 3, box.y + 3);
  await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  assert.equal((await p.posted()).length, before);
  assert.deepEqual(p.problems, []);
  await p.close();
});
