/** Diagnostic positions: one converter per text, agreeing with a plain scan, linear in text + lookups. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineColumn, lineColumnOf } from '../../../recipe/positions';

function naive(text: string, offset: number): { line: number; column: number } {
  const end = Math.min(Math.max(offset, 0), text.length);
  const before = text.slice(0, end);
  const line = before.split('\n').length;
  return { line, column: end - (before.lastIndexOf('\n') + 1) + 1 };
}

test('line/column agree with a plain scan, at line starts, ends, CRLF and out of range', () => {
  const text = 'a\nbc\r\n\n😀x\nlast';
  const at = lineColumnOf(text);
  for (let o = -2; o <= text.length + 2; o++) assert.deepEqual(at(o), naive(text, o), `offset ${o}`);
  assert.deepEqual(lineColumn('', 5), { line: 1, column: 1 });
});

test('54k diagnostics on a 2 MB recipe: the line starts are found once', () => {
  const text = Array.from({ length: 54_000 }, (_, i) => `  - {match: "layers.${i % 36}.wq", bits: 4}`).join('\n');
  const at = lineColumnOf(text);
  const t = performance.now();
  let o = 0;
  for (let i = 0; i < 54_000; i++) {
    const p = at(o);
    assert.equal(p.line, i + 1);
    o = text.indexOf('\n', o) + 1;
  }
  assert.ok(performance.now() - t < 10_000);
});
