/**
 * Issue 17's hanging documents in a real server: sequences of `.*` in a `re:` pattern, `{*,*}` globs
 * and a many-rule document are checked (diagnostics published, each pattern's outcome stated) and a
 * hover on another document is still answered. Before the linear-time matcher the first document
 * alone froze the server for minutes, so these tests time out (fail) on a regression.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel } from './lspClient';

const skip = fs.existsSync(storiesModel) ? false : `stories260K not found at ${storiesModel} (needs ../shared)`;

test('pathological patterns are checked in bounded work and other documents keep being served', { skip, timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-hostile-'));
  const s = await startSession();
  try {
    const small = `file://${dir}/small.lowbit.yaml`;
    const smallDiags = s.diagnostics(small);
    s.open(small, `version: 1\nmodel: ${storiesModel}\noutput: ./o.onnx\nlayers:\n  - match: "layers.*.wq"\n    bits: 8\n`);
    await smallDiags;

    const evil = `file://${dir}/evil.lowbit.yaml`;
    const head = `version: 1\nmodel: ${storiesModel}\noutput: ./out.onnx\nformat: fake\nlayers:\n`;
    const text =
      head +
      `  - match: "re:${'.*'.repeat(40)}Z"\n    bits: 4\n` +
      `  - match: "${'{*,*}'.repeat(20)}Z"\n    bits: 4\n` +
      `  - match: "re:(a+)+$"\n    bits: 4\n` +
      Array.from({ length: 3000 }, (_, i) => `  - {match: "re:(.*)*${i}", bits: 4}\n`).join('');
    const evilDiags = s.diagnostics(evil);
    s.open(evil, text);
    const hover = await s.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri: small }, position: { line: 4, character: 14 } });
    assert.match(JSON.stringify(hover), /layers\.0\.wq/, 'hover on the other document answered');
    const { diagnostics } = await evilDiags;
    const noMatch = diagnostics.filter((d) => d.code === 'no-match');
    assert.ok(
      noMatch.some((d) => d.range.start.line === 5),
      'the .* sequence was matched (no layer ends in Z)',
    );
    assert.ok(
      noMatch.some((d) => d.range.start.line === 7),
      'the {*,*} glob was matched',
    );
    assert.equal(s.child.exitCode, null);
  } finally {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
