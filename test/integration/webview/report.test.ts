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

const gptq = fixture('stories260K-gptq-w4');
const rtn = fixture('stories260K-rtn-w4');
const history = [
  { path: '/runs/gptq.report.json', label: 'gptq w4' },
  { path: '/runs/rtn.report.json', label: 'rtn w4' },
];

test('report panel shows FP vs compressed metrics, a per-layer chart and a sortable table', async () => {
  const p = await h.open('report');
  await p.send({ type: 'report', report: gptq, reportPath: history[0].path, history });
  const row = (m: string) => p.page.locator(`#metrics tr[data-metric="${m}"] td`).allTextContents();
  assert.deepEqual(await row('Perplexity'), ['Perplexity', '5.873', '6.118']);
  assert.deepEqual(await row('KL divergence (mean)'), ['KL divergence (mean)', '0', '0.0213']);
  assert.deepEqual(await row('KL divergence (p99)'), ['KL divergence (p99)', '0', gptq.metrics.kl_divergence.p99.toFixed(4)]);
  assert.deepEqual(await row('Top-1 agreement'), ['Top-1 agreement', '100.0%', '94.1%']);
  assert.deepEqual(await row('Bits / weight'), ['Bits / weight', '32', gptq.size.bits_per_weight.toFixed(2)]);
  assert.equal((await row('Size'))[1], '1.11 MiB');
  // The chart drew on its canvas (non-blank pixels).
  const painted = await p.page.$eval('#layer-chart', (c) => {
    const d = (c as HTMLCanvasElement)
      .getContext('2d')!
      .getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
    return n;
  });
  assert.ok(painted > 1000, `chart painted ${painted} pixels`);
  // Default sort: rel_error descending; the first row is the worst layer.
  const names = await p.page.locator('#layer-table tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.layer));
  assert.equal(names.length, 36);
  const worst = [...gptq.layers].sort((a: any, b: any) => b.rel_error - a.rel_error)[0];
  assert.equal(names[0], worst.name);
  await p.screenshot('report-dark');
  // Click "Layer" header: sorts by name descending, then ascending.
  await p.page.locator('#layer-table th[data-key="name"]').click();
  await p.page.locator('#layer-table th[data-key="name"]').click();
  const sortedNames = await p.page.locator('#layer-table tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.layer));
  assert.deepEqual(
    sortedNames,
    [...sortedNames].sort((a, b) => a!.localeCompare(b!)),
  );
  // Clicking a row asks the host to reveal the rule.
  await p.page.locator('#layer-table tbody tr[data-layer="layers.2.w2"]').click();
  const posted = await p.posted();
  assert.deepEqual(posted.at(-1), { type: 'revealLayer', layer: 'layers.2.w2' });
  assert.deepEqual(p.problems, []);
  assert.ok(!posted.some((m) => m.csp), `CSP violations: ${JSON.stringify(posted.filter((m) => m.csp))}`);
  await p.close();
});

test('report panel compares two runs side by side and restores its state', async () => {
  const p = await h.open('report', { theme: 'light' });
  await p.send({ type: 'report', report: gptq, reportPath: history[0].path, history });
  await p.page.locator('#compare').waitFor();
  await p.send({ type: 'compare', report: rtn, reportPath: history[1].path });
  const cells = await p.page.locator('#metrics tr[data-metric="Perplexity"] td').allTextContents();
  assert.deepEqual(cells, ['Perplexity', '5.873', '6.118', '6.741']);
  await p.screenshot('report-compare-light');
  // Theme-aware: VS Code's light theme variables drive the page and the chart.
  assert.equal(await p.page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(255, 255, 255)');
  const bgAfterSwitch = await p.page.evaluate(() => {
    document.body.classList.replace('vscode-light', 'vscode-dark');
    document.documentElement.style.setProperty('--vscode-foreground', '#cccccc');
    document.documentElement.style.setProperty('--vscode-editor-background', '#1e1e1e');
    return new Promise((r) => setTimeout(() => r(getComputedStyle(document.body).backgroundColor), 100));
  });
  assert.equal(bgAfterSwitch, 'rgb(30, 30, 30)');
  assert.equal(await p.page.locator('#metrics tr[data-metric="Perplexity"] td').count(), 4, 'a theme switch re-renders the same content');
  const state = await p.page.evaluate(() => (window as any).__state);
  assert.equal(state.compare.metrics.quantized.perplexity, 6.741);
  await p.close();
  // A re-opened panel (VS Code passes the saved state back) renders without any new message.
  const q = await h.open('report', { state });
  assert.deepEqual(await q.page.locator('#metrics tr[data-metric="Perplexity"] td').allTextContents(), [
    'Perplexity',
    '5.873',
    '6.118',
    '6.741',
  ]);
  await q.close();
});

test('report panel rejects malformed and unknown messages', async () => {
  const p = await h.open('report');
  await p.send({ type: 'report', report: { ...gptq, version: 3 }, reportPath: 'x', history: [] });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /unsupported report version 3/);
  await p.send({ type: 'evil', html: '<img src=x onerror=alert(1)>' });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /unknown message type 'evil'/);
  const bad = structuredClone(gptq);
  bad.layers[3].rel_error = 'NaN';
  await p.send({ type: 'report', report: bad, reportPath: 'x', history: [] });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /layers\[3\] \(layers.0.wo\)\.rel_error must be a finite number/);
  assert.equal(await p.page.locator('#metrics').count(), 0, 'nothing rendered from rejected messages');
  await p.close();
});

test('report panel renders a report recorded from a real engine run (stories260K, GPTQ w4)', async () => {
  const real = fixture('stories260K-real-gptq');
  const p = await h.open('report');
  await p.send({ type: 'report', report: real, reportPath: '/real.report.json', history: [] });
  const row = (m: string) => p.page.locator(`#metrics tr[data-metric="${m}"] td`).allTextContents();
  assert.deepEqual(await row('Perplexity'), [
    'Perplexity',
    real.metrics.fp.perplexity.toFixed(3),
    real.metrics.quantized.perplexity.toFixed(3),
  ]);
  assert.deepEqual(await row('Top-1 agreement'), ['Top-1 agreement', '100.0%', `${(real.metrics.top1_agreement * 100).toFixed(1)}%`]);
  assert.equal(await p.page.locator('#layer-table tbody tr').count(), real.layers.length);
  const w2 = real.layers.find((l: any) => l.name === 'layers.0.w2');
  assert.equal(await p.page.locator('#layer-table tr[data-layer="layers.0.w2"] td[data-key="bits"]').textContent(), String(w2.bits));
  await p.screenshot('report-real-run');
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('report panel shows prefill/decode latency and the two generated texts side by side', async () => {
  const r = structuredClone(gptq);
  r.accuracy_level = 4;
  r.metrics.decode_latency = {
    mode: 'kv_cache',
    prompt_tokens: 5,
    decode_tokens: 24,
    threads: 2,
    fp: { prefill_ms: 0.9, decode_ms_per_token: 0.42 },
    quantized: { prefill_ms: 0.7, decode_ms_per_token: 0.25 },
  };
  r.metrics.generation = {
    prompt: 'Once upon a time',
    prompt_tokens: 5,
    tokens: 4,
    mode: 'kv_cache',
    fp: { text: ', there was a', ids: [261, 378, 432, 383] },
    quantized: { text: ', there lived <b>x</b>', ids: [261, 378, 500, 383] },
    first_divergence: 2,
  };
  const p = await h.open('report');
  await p.send({ type: 'report', report: r, reportPath: 'x', history: [] });
  const row = (m: string) => p.page.locator(`#metrics tr[data-metric="${m}"] td`).allTextContents();
  assert.deepEqual(await row('Prefill (ms, 5 tokens)'), ['Prefill (ms, 5 tokens)', '0.90', '0.70']);
  assert.deepEqual(await row('Decode (ms / token, KV cache)'), ['Decode (ms / token, KV cache)', '0.420', '0.250']);
  assert.equal(await p.page.locator('#generation td[data-model="fp"]').textContent(), ', there was a');
  // Text is shown as text, never as markup.
  assert.equal(await p.page.locator('#generation td[data-model="quantized"]').textContent(), ', there lived <b>x</b>');
  assert.equal(await p.page.locator('#generation b').count(), 0);
  assert.match((await p.page.locator('#generation p').textContent()) ?? '', /first divergence at token 2/);
  assert.match((await p.page.locator('header').textContent()) ?? '', /accuracy_level 4/);
  await p.screenshot('report-generation');
  // A generation block of the wrong shape is refused with a message naming it.
  const bad = structuredClone(r);
  bad.metrics.generation.first_divergence = 'two';
  await p.send({ type: 'report', report: bad, reportPath: 'x', history: [] });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /metrics\.generation must have/);
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('report panel: a Pruned column with each layer’s sparsity and storage form, only when a layer was pruned', async () => {
  // Recorded from a real `lowbit run --json` (SparseGPT+SmoothQuant W8A8 at 2:4, block 0's seven layers).
  const sparse = fixture('stories260K-smoothquant-sparsegpt-24');
  const p = await h.open('report');
  await p.send({ type: 'report', report: sparse, reportPath: '/runs/sq.report.json', history: [] });
  const heads = await p.page.locator('#layer-table th').evaluateAll((hs) => hs.map((x) => (x as HTMLElement).dataset.key));
  assert.ok(heads.includes('sparsity'), `columns ${heads}`);
  const col = heads.indexOf('sparsity');
  for (const l of sparse.layers) {
    const cell = await p.page.locator(`#layer-table tbody tr[data-layer="${l.name}"] td`).nth(col).textContent();
    const form = { bitmap: 'bitmap', index: 'index codes', dense: 'dense zeros' }[l.sparsity.storage as string]!;
    assert.equal(cell, `${(100 * l.sparsity.pruned).toFixed(1)}% (2:4, ${form})`, l.name);
  }
  const forms = new Set(sparse.layers.map((l: any) => l.sparsity.storage));
  assert.deepEqual([...forms].sort(), ['bitmap', 'index'], 'the fixture holds both packed forms');
  // A dense report has no such column; a bad storage value is refused.
  await p.send({ type: 'report', report: gptq, reportPath: '/runs/gptq.report.json', history: [] });
  const dense = await p.page.locator('#layer-table th').evaluateAll((hs) => hs.map((x) => (x as HTMLElement).dataset.key));
  assert.ok(!dense.includes('sparsity'));
  const bad = structuredClone(sparse);
  bad.layers[1].sparsity.storage = 'zip';
  await p.send({ type: 'report', report: bad, reportPath: 'x', history: [] });
  assert.match(
    (await p.page.locator('#error').textContent()) ?? '',
    /layers\[1\] \(layers\.0\.wk\)\.sparsity\.storage must be bitmap, index or dense/,
  );
  assert.deepEqual(p.problems, []);
  await p.close();
});

test('report panel shows method internals recorded from a real run: rotation kurtosis, HQQ trace, AdaRound flips, GPTAQ drift', async () => {
  // test/fixtures/recipes/stories260K-internals.lowbit.yaml: rotation + hqq (float zero points) + adaround + GPTAQ.
  const real = fixture('stories260K-real-internals');
  const p = await h.open('report');
  await p.send({ type: 'report', report: real, reportPath: '/internals.report.json', history: [] });
  const painted = (id: string) =>
    p.page.$eval(id, (c) => {
      const cv = c as HTMLCanvasElement;
      const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
      return n;
    });
  const cell = (block: string, layer: string, key: string) =>
    p.page.locator(`#${block}-table tr[data-layer="${layer}"] td[data-key="${key}"]`).textContent();
  // Rotation: its construction, and per rotated layer the kurtosis before and after.
  const rot = real.rotation;
  assert.match(
    (await p.page.locator('#rotation p.meta').first().textContent()) ?? '',
    /hadamard 2\^6, d = 64, seed 0 · embedding tok_embeddings · 11 norm scales folded/,
  );
  assert.equal(await p.page.locator('#rotation-table tbody tr').count(), rot.layers.length);
  const r0 = rot.layers.find((l: any) => l.name === 'layers.3.w2');
  assert.equal(await cell('rotation', 'layers.3.w2', 'side'), r0.side);
  assert.equal(await cell('rotation', 'layers.3.w2', 'kurtosis_before'), r0.kurtosis_before.toFixed(2));
  assert.equal(await cell('rotation', 'layers.3.w2', 'kurtosis_after'), r0.kurtosis_after.toFixed(2));
  assert.ok((await painted('#rotation-chart')) > 500);
  // HQQ: iterations, objective at the start and the end, and the trace of the selected layer.
  const hqq = real.layers.filter((l: any) => l.hqq);
  assert.equal(await p.page.locator('#hqq-table tbody tr').count(), hqq.length);
  const wq1 = real.layers.find((l: any) => l.name === 'layers.1.wq').hqq;
  assert.equal(await cell('hqq', 'layers.1.wq', 'iterations'), String(wq1.iterations));
  assert.equal(await cell('hqq', 'layers.1.wq', 'final'), wq1.final.toFixed(5));
  assert.equal(await cell('hqq', 'layers.1.wq', 'zero_point'), 'float');
  assert.equal(await p.page.locator('#hqq-chart').getAttribute('data-layer'), hqq[0].name);
  assert.ok((await painted('#hqq-chart')) > 200);
  await p.page.locator('#hqq-table tr[data-layer="layers.1.wq"]').click();
  assert.equal(await p.page.locator('#hqq-chart').getAttribute('data-layer'), 'layers.1.wq');
  assert.match(
    (await p.page.locator('#hqq .chart-caption').textContent()) ?? '',
    new RegExp(`layers\\.1\\.wq \\(${wq1.iterations} iterations`),
  );
  assert.deepEqual((await p.posted()).at(-1), { type: 'revealLayer', layer: 'layers.1.wq' });
  // AdaRound: flips per layer and the two losses.
  const ada = real.layers.filter((l: any) => l.adaround);
  assert.equal(await p.page.locator('#adaround-table tbody tr').count(), ada.length);
  const w1 = real.layers.find((l: any) => l.name === 'layers.2.w1').adaround;
  assert.equal(await cell('adaround', 'layers.2.w1', 'flips'), String(w1.flips));
  assert.equal(await cell('adaround', 'layers.2.w1', 'flip_fraction'), `${(w1.flip_fraction * 100).toFixed(2)}%`);
  assert.equal(await cell('adaround', 'layers.2.w1', 'loss'), w1.loss.toFixed(4));
  assert.ok((await painted('#adaround-chart')) > 200);
  // GPTAQ: α and the cross term's size per layer.
  const gq = real.layers.filter((l: any) => l.gptaq);
  assert.equal(await p.page.locator('#gptaq-table tbody tr').count(), gq.length);
  const w2 = real.layers.find((l: any) => l.name === 'layers.4.w2').gptaq;
  assert.equal(await cell('gptaq', 'layers.4.w2', 'alpha'), w2.alpha.toFixed(2));
  assert.equal(await cell('gptaq', 'layers.4.w2', 'cross_ratio'), w2.cross_ratio.toFixed(4));
  await p.screenshot('report-internals');
  assert.deepEqual(p.problems, []);
  // A report without these internals has no section; malformed internals are refused, naming the field.
  await p.send({ type: 'report', report: gptq, reportPath: 'x', history: [] });
  assert.equal(await p.page.locator('#internals').count(), 0);
  // A tied head untied for the rotation: its copy's size is shown.
  const tied = structuredClone(real);
  tied.rotation.untied = { embedding: 'tok_embeddings', head: 'tok_embeddings@/lm_head/MatMul', bytes: 131072 };
  await p.send({ type: 'report', report: tied, reportPath: 'x', history: [] });
  assert.match(
    (await p.page.locator('#rotation p.meta').first().textContent()) ?? '',
    /tied head tok_embeddings@\/lm_head\/MatMul untied from tok_embeddings \(\+128\.0 KiB\)/,
  );
  // A LayerNorm model: the rewrite is said (count, what was centred, the new bias).
  const ln = structuredClone(real);
  ln.rotation.tables = ['transformer.wpe.weight'];
  ln.rotation.layer_norm = {
    rewritten: ['/h.0/ln_1', '/h.0/ln_2', '/ln_f'],
    centred: ['a', 'b', 'c', 'd'],
    new_biases: ['lm_head.weight'],
  };
  await p.send({ type: 'report', report: ln, reportPath: 'x', history: [] });
  const lnMeta = (await p.page.locator('#rotation p.meta').first().textContent()) ?? '';
  assert.match(
    lnMeta,
    /3 LayerNorms rewritten as RMSNorm after centring the stream \(4 writers and tables centred; new bias β·W on lm_head\.weight\)/,
  );
  assert.match(lnMeta, /embedding tok_embeddings · also transformer\.wpe\.weight/);
  ln.rotation.layer_norm.rewritten = 3;
  await p.send({ type: 'report', report: ln, reportPath: 'x', history: [] });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /report\.rotation\.layer_norm must be/);
  const badHqq = structuredClone(real);
  badHqq.layers[0].hqq.objective = ['x'];
  await p.send({ type: 'report', report: badHqq, reportPath: 'x', history: [] });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /layers\[0\] \(layers\.0\.wq\)\.hqq must have/);
  const badRot = structuredClone(real);
  badRot.rotation.layers[2].side = 'sideways';
  await p.send({ type: 'report', report: badRot, reportPath: 'x', history: [] });
  assert.match((await p.page.locator('#error').textContent()) ?? '', /report\.rotation\.layers\[2\] must have/);
  await p.close();
});
