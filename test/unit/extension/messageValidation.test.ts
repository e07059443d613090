import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFromWebview, parseToWebview, checkReport } from '../../../webview/src/protocol';

const fixture = (n: string) => JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/reports', `${n}.report.json`), 'utf8'));

test('every recorded report fixture is a valid report', () => {
  for (const n of ['stories260K-gptq-w4', 'stories260K-rtn-w4', 'stories260K-billm', 'stories260K-flrq', 'stories260K-real-gptq'])
    assert.equal(checkReport(fixture(n)), null, n);
});

test('host → webview: valid messages pass, malformed ones are rejected with the reason', () => {
  const report = fixture('stories260K-gptq-w4');
  const ok = { type: 'report', report, reportPath: '/a.report.json', history: [{ path: '/a.report.json', label: 'a' }] };
  assert.equal(parseToWebview(ok), ok);
  assert.equal(parseToWebview({ type: 'sensitivity', layers: [{ name: 'a', proxy: 1, kl: 0.5 }], done: true }).constructor, Object);
  assert.match(
    parseToWebview({ type: 'report', report, reportPath: '/a', history: [], extra: 1 }) as string,
    /unexpected field\(s\) extra/,
  );
  assert.match(parseToWebview({ type: 'script', code: 'alert(1)' }) as string, /unknown message type 'script'/);
  assert.match(parseToWebview(null) as string, /without a type/);
  const bad = structuredClone(report);
  bad.layers[35].shape = [1];
  assert.match(parseToWebview({ ...ok, report: bad }) as string, /layers\[35\] \(output\)\.shape must be \[out, in\]/);
  const sal = fixture('stories260K-billm');
  sal.layers[0].binarization.saliency.values.pop();
  assert.match(checkReport(sal)!, /layers\[0\] \(layers\.0\.wq\)\.binarization\.saliency must be/);
  assert.match(parseToWebview({ type: 'sensitivity', layers: [{ name: 'a', proxy: Infinity }], done: true }) as string, /layers\[0\]/);
});

test('webview → host: only the known requests with sane arguments', () => {
  assert.deepEqual(parseFromWebview({ type: 'ready' }), { type: 'ready' });
  assert.deepEqual(parseFromWebview({ type: 'revealLayer', layer: 'layers.0.wq' }), { type: 'revealLayer', layer: 'layers.0.wq' });
  assert.deepEqual(parseFromWebview({ type: 'applyMixedPrecision', highBits: 8, budgetFraction: 0.25 }), {
    type: 'applyMixedPrecision',
    highBits: 8,
    budgetFraction: 0.25,
  });
  assert.match(
    parseFromWebview({ type: 'applyMixedPrecision', highBits: 8.5, budgetFraction: 0.25 }) as string,
    /highBits must be an integer/,
  );
  assert.match(parseFromWebview({ type: 'applyMixedPrecision', highBits: 8, budgetFraction: 2 }) as string, /budgetFraction/);
  assert.match(parseFromWebview({ type: 'compare', path: '/etc/passwd' }) as string, /must name a \.json report/);
  assert.match(parseFromWebview({ type: 'revealLayer', layer: '' }) as string, /non-empty/);
  assert.match(parseFromWebview({ type: 'ready', x: 1 }) as string, /unexpected field/);
  assert.match(parseFromWebview({ type: 'executeCommand', id: 'x' }) as string, /unknown message type/);
});
