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

/** Issue 17's largest shapes under the 2 MB limit: 54k short one-line rules, and 32k one-line flow rules. */
function worstCase(kind: '54k' | '32k'): string {
  const names = [
    ...Array.from({ length: 5 }, (_, i) => ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'].map((w) => `layers.${i}.${w}`)).flat(),
    'output',
  ];
  const head = `version: 1\nmodel: ${storiesModel}\noutput: ./out.onnx\nformat: fake\nlayers:\n`;
  if (kind === '32k')
    return head + Array.from({ length: 32_000 }, (_, i) => `  - {match: "${names[i % 36]}", bits: ${i % 2 ? 4 : 8}}\n`).join('');
  let text = head;
  for (let i = 0; ; i++) {
    const line = `  - {match: "${names[i % 36]}", bits: 4}\n`;
    if (text.length + line.length > 1_990_000) return text;
    text += line;
  }
}

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

test(
  "a hover on another document is answered before a 2 MB recipe's check ends (the check runs off the main thread)",
  { skip, timeout: 180_000 },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-big-'));
    const s = await startSession();
    try {
      const small = `file://${dir}/small.lowbit.yaml`;
      const smallDiags = s.diagnostics(small);
      s.open(small, `version: 1\nmodel: ${storiesModel}\noutput: ./o.onnx\nlayers:\n  - match: "layers.*.wq"\n    bits: 8\n`);
      await smallDiags;
      const text = worstCase('54k');
      assert.ok(text.length > 1_900_000 && text.length < 2_000_000);
      const big = `file://${dir}/big.lowbit.yaml`;
      const order: string[] = [];
      const bigDiags = s.diagnostics(big).then((p) => {
        order.push('diagnostics');
        return p;
      });
      s.open(big, text);
      const hover = await s.conn
        .sendRequest(rpc.HoverRequest.type, { textDocument: { uri: small }, position: { line: 4, character: 14 } })
        .then((h) => {
          order.push('hover');
          return h;
        });
      assert.match(JSON.stringify(hover), /layers\.0\.wq/);
      const { diagnostics } = await bigDiags;
      assert.deepEqual(order, ['hover', 'diagnostics'], 'the hover did not wait for the big check');
      assert.equal(diagnostics.length, 500, 'the first 500 diagnostics are published');
      assert.ok(diagnostics.some((d) => /has no effect: later rules override/.test(String(d.message))));
    } finally {
      await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a check made stale by an edit is cancelled: only the newest version is published', { skip, timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-stale-'));
  const s = await startSession();
  try {
    const uri = `file://${dir}/big.lowbit.yaml`;
    const v2 = s.diagnostics(uri, 2);
    s.open(uri, worstCase('32k'), 1);
    s.conn.sendNotification(rpc.DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version: 2 },
      contentChanges: [{ text: `version: 1\nmodel: ${storiesModel}\noutput: ./out.onnx\nbits: 4\n` }],
    });
    const { diagnostics } = await v2;
    assert.ok(
      diagnostics.some((d) => /Unknown key `bits`/.test(String(d.message))),
      JSON.stringify(diagnostics),
    );
    assert.deepEqual(
      s.published.filter((p) => p.uri === uri).map((p) => p.version),
      [2],
      'version 1 was never published',
    );
  } finally {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
