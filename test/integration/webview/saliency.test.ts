import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, fixture, type Harness } from './panelHarness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.close();
});

test('saliency panel draws the heatmap with a colour scale, hover values and salient columns', async () => {
  const report = fixture('stories260K-billm');
  const p = await h.open('saliency');
  await p.send({ type: 'report', report, reportPath: '/b.json', history: [] });
  const l0 = report.layers[0];
  const { rows, cols, values } = l0.binarization.saliency;
  const box = await p.page.locator('#heatmap canvas.heatmap').boundingBox();
  assert.ok(box && box.width > 100, 'heatmap canvas is laid out');
  assert.equal(
    await p.page.locator('#heatmap canvas.heatmap').getAttribute('aria-label'),
    `saliency heatmap ${rows}×${cols}, range ${Math.min(...values).toFixed(3)} to ${Math.max(...values).toFixed(3)}`,
  );
  // Hover over cell (row 2, col 3): the read-out names the cell and its value.
  await p.page.mouse.move(box!.x + (3.5 / cols) * box!.width, box!.y + (2.5 / rows) * box!.height);
  assert.equal(await p.page.locator('#heatmap-hover').textContent(), `row 2, col 3: ${values[2 * cols + 3].toFixed(4)}`);
  assert.equal(
    await p.page.locator('#salient').textContent(),
    `Salient columns (${l0.binarization.salient_columns.length}): ${l0.binarization.salient_columns.join(', ')}`,
  );
  // The salient columns are brighter than the rest (viridis: yellow = high) in the drawn pixels.
  const brightness = await p.page.$eval(
    '#heatmap canvas.heatmap',
    (c, [col, other, n]) => {
      const cv = c as HTMLCanvasElement,
        g = cv.getContext('2d')!,
        cell = cv.width / n;
      const out: number[] = [];
      for (const x of [col, other]) {
        const d = g.getImageData(Math.floor((x + 0.5) * cell), Math.floor(cell * 10.5), 1, 1).data;
        out.push(d[0] + d[1] + d[2]);
      }
      return out;
    },
    [l0.binarization.salient_columns[0], 0, cols],
  );
  assert.ok(brightness[0] > brightness[1], `salient column brighter: ${brightness}`);
  await p.screenshot('saliency-dark');
  await p.page.locator('#reveal').click();
  assert.deepEqual((await p.posted()).at(-1), { type: 'revealLayer', layer: l0.name });
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('saliency panel says so when no layer is binarized', async () => {
  const p = await h.open('saliency', { theme: 'light' });
  await p.send({ type: 'report', report: fixture('stories260K-gptq-w4'), reportPath: '/g.json', history: [] });
  assert.match((await p.page.locator('.empty').textContent()) ?? '', /No binarized or pruned layers/);
  await p.close();
});

test('saliency panel shows a pruned layer’s Hessian saliency next to its kept/pruned mask', async () => {
  const report = fixture('stories260K-sparsegpt');
  const p = await h.open('saliency');
  await p.send({ type: 'report', report, reportPath: '/s.json', history: [] });
  const l0 = report.layers[0];
  const s = l0.sparsity;
  assert.match((await p.page.locator('header').textContent()) ?? '', new RegExp(`sparsegpt.*sparsity ${s.pattern}: 50\\.0% pruned`));
  // The panels' number format (webview/src/ui/format.ts): exponential below 1e-3.
  const f = (x: number, d = 3) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toFixed(d));
  const range = (v: number[]) => `range ${f(Math.min(...v))} to ${f(Math.max(...v))}`;
  assert.equal(
    await p.page.locator('#heatmap canvas.heatmap').getAttribute('aria-label'),
    `saliency heatmap ${s.saliency.rows}×${s.saliency.cols}, ${range(s.saliency.values)}`,
  );
  assert.equal(
    await p.page.locator('#mask canvas.heatmap').getAttribute('aria-label'),
    `kept-fraction map ${s.mask.rows}×${s.mask.cols}, ${range(s.mask.values)}`,
  );
  // Side by side, and each hover reads its own map.
  const a = (await p.page.locator('#heatmap canvas.heatmap').boundingBox())!;
  const b = (await p.page.locator('#mask canvas.heatmap').boundingBox())!;
  assert.ok(b.x > a.x + a.width - 1 && Math.abs(b.y - a.y) < 2, `mask beside saliency: ${JSON.stringify([a, b])}`);
  await p.page.mouse.move(b.x + (5.5 / s.mask.cols) * b.width, b.y + (1.5 / s.mask.rows) * b.height);
  assert.equal(await p.page.locator('#mask-hover').textContent(), `row 1, col 5: ${f(s.mask.values[1 * s.mask.cols + 5], 4)}`);
  await p.page.mouse.move(a.x + (2.5 / s.saliency.cols) * a.width, a.y + (3.5 / s.saliency.rows) * a.height);
  assert.equal(await p.page.locator('#heatmap-hover').textContent(), `row 3, col 2: ${f(s.saliency.values[3 * s.saliency.cols + 2], 4)}`);
  // Pruning keeps the salient weights: cells with more saliency keep more (positive correlation).
  const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
  const ms = mean(s.saliency.values),
    mm = mean(s.mask.values);
  let cov = 0;
  s.saliency.values.forEach((v: number, i: number) => (cov += (v - ms) * (s.mask.values[i] - mm)));
  assert.ok(cov > 0, 'kept fraction follows saliency');
  await p.screenshot('saliency-sparse');
  assert.deepEqual(p.problems, []);
  await p.close();
});
