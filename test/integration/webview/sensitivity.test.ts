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

test('sensitivity panel: proxy first, measured KL fills in, sorted, mixed-precision action', async () => {
  const p = await h.open('sensitivity');
  const gptq = fixture('stories260K-gptq-w4');
  const proxyOnly = gptq.layers.map((l: any) => ({ name: l.name, proxy: l.sensitivity.proxy }));
  await p.send({ type: 'sensitivity', layers: proxyOnly, done: false });
  assert.equal(await p.page.locator('#status').textContent(), 'measuring 0/36');
  const first = await p.page.locator('#layer-table tbody tr').first().getAttribute('data-layer');
  const byProxy = [...proxyOnly].sort((a, b) => b.proxy - a.proxy);
  assert.equal(first, byProxy[0].name);
  // Measured KL for two layers arrives: the smallest-proxy layer turns out to matter most.
  const weakest = byProxy.at(-1)!.name;
  await p.send({
    type: 'sensitivity',
    layers: [
      { name: weakest, proxy: byProxy.at(-1)!.proxy, kl: 9.5 },
      { name: byProxy[0].name, proxy: byProxy[0].proxy, kl: 0.001 },
    ],
    done: false,
  });
  assert.equal(await p.page.locator('#status').textContent(), 'measuring 2/36');
  assert.equal(await p.page.locator('#layer-table tbody tr').first().getAttribute('data-layer'), weakest);
  const klCell = await p.page.locator(`#layer-table tr[data-layer="${weakest}"] td[data-key="kl"]`).textContent();
  assert.equal(klCell, '9.50000');
  // An update without kl never erases a measured value.
  await p.send({ type: 'sensitivity', layers: [{ name: weakest, proxy: 0.5 }], done: true });
  assert.equal(await p.page.locator(`#layer-table tr[data-layer="${weakest}"] td[data-key="kl"]`).textContent(), '9.50000');
  assert.equal(await p.page.locator('#status').textContent(), 'done');
  await p.page.locator('#mixed').click();
  assert.deepEqual((await p.posted()).at(-1), { type: 'applyMixedPrecision', highBits: 8, budgetFraction: 0.25 });
  await p.send({ type: 'mixedPrecision', chosen: [weakest, 'layers.0.w2'] });
  assert.match(
    (await p.page.locator('#chosen').textContent()) ?? '',
    new RegExp(`8 bits for ${weakest.replace('.', '\\.')}, layers\\.0\\.w2`),
  );
  await p.page.locator('#run').click();
  assert.deepEqual((await p.posted()).at(-1), { type: 'runSensitivity' });
  await p.screenshot('sensitivity-dark');
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('sensitivity panel seeds itself from a report and rejects bad updates', async () => {
  const p = await h.open('sensitivity', { theme: 'high-contrast' });
  await p.send({ type: 'report', report: fixture('stories260K-gptq-w4'), reportPath: '/r.json', history: [] });
  assert.equal(await p.page.locator('#layer-table tbody tr').count(), 36);
  await p.send({ type: 'sensitivity', layers: [{ name: 'x', proxy: 'big' }], done: false });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /layers\[0\] must be \{name, proxy, kl\?\}/);
  assert.equal(await p.page.locator('#layer-table tbody tr').count(), 36);
  await p.screenshot('sensitivity-high-contrast');
  await p.close();
});
