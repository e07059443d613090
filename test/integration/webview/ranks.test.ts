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

test('rank panel lists rank, storage and error before/after per low-rank layer', async () => {
  const report = fixture('stories260K-flrq');
  const lr = report.layers.filter((l: any) => l.low_rank);
  const p = await h.open('ranks', { theme: 'light' });
  await p.send({ type: 'report', report, reportPath: '/f.json', history: [] });
  assert.equal(await p.page.locator('#layer-table tbody tr').count(), lr.length);
  const l = lr[5];
  const cells = await p.page.locator(`#layer-table tr[data-layer="${l.name}"] td`).allTextContents();
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  assert.deepEqual(cells, [
    l.name,
    String(l.low_rank.rank),
    pct(l.low_rank.storage_overhead),
    l.low_rank.rel_error_before.toFixed(5),
    l.low_rank.rel_error_after.toFixed(5),
    pct(1 - l.low_rank.rel_error_after / l.low_rank.rel_error_before),
  ]);
  const total = lr.reduce((s: number, x: any) => s + x.low_rank.rank, 0);
  assert.match((await p.page.locator('header').textContent()) ?? '', new RegExp(`total rank ${total}`));
  // Default sort: rank descending.
  const ranks = await p.page.locator('#layer-table td[data-key="rank"]').allTextContents();
  assert.deepEqual(
    ranks.map(Number),
    [...ranks.map(Number)].sort((a, b) => b - a),
  );
  await p.screenshot('ranks-light');
  assert.deepEqual(p.problems, []);
  await p.close();
});
