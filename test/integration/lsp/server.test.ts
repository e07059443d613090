import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';

const skip = fs.existsSync(storiesModel) ? false : `stories260K not found at ${storiesModel} (needs ../shared)`;

describe('language server over stdio on stories260K', { skip }, () => {
  let s: LspSession;
  let dir: string;
  let uri: string;
  let text: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-'));
    uri = `file://${dir}/stories.lowbit.yaml`;
    text = storiesRecipe([
      '  samples: 4',
      'defaults: { method: gptq, bits: 4, group_size: 32 }',
      'layers:',
      '  - match: "layers.*.w2"',
      '    bits: 3',
      '  - match: layers.9.wq',
      '    bits: 8',
    ]);
    s = await startSession();
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('didOpen publishes diagnostics with exact ranges', async () => {
    const pending = s.diagnostics(uri);
    s.open(uri, text);
    const { diagnostics } = await pending;
    const bits = diagnostics.find((d) => d.code === 'unsupported-bits')!;
    assert.deepEqual(bits.range, { start: { line: 11, character: 10 }, end: { line: 11, character: 11 } });
    assert.match(String(bits.message), /matmulnbits cannot store 3-bit weights .*layers\.0\.w2/);
    const none = diagnostics.find((d) => d.code === 'no-match')!;
    assert.deepEqual(none.range, { start: { line: 12, character: 11 }, end: { line: 12, character: 22 } });
    assert.equal(none.severity, rpc.DiagnosticSeverity.Warning);
  });

  test("completion offers the real model's layer names and patterns", async () => {
    const items = (await s.conn.sendRequest(rpc.CompletionRequest.type, {
      textDocument: { uri },
      position: { line: 12, character: 11 },
    })) as rpc.CompletionItem[];
    const names = items.map((i) => i.label);
    for (const n of ['layers.0.wq', 'layers.4.w3', 'output', 'layers.*.w2', 'tok_embeddings']) assert.ok(names.includes(n), n);
    // 36 MatMul layers and the embedding table, which a rule may name (opt-in).
    assert.equal(items.filter((i) => i.kind === rpc.CompletionItemKind.Field).length, 37);
    assert.match(
      items.find((i) => i.label === 'tok_embeddings')!.detail!,
      /^Gather \[512×64\] · 32,768 params · embedding table \(opt-in\)$/,
    );
  });

  test('hover on a pattern lists the layers it matches', async () => {
    const h = await s.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri }, position: { line: 10, character: 15 } });
    assert.match((h!.contents as rpc.MarkupContent).value, /matches \*\*5\*\* layers/);
  });

  test('code lens counts layers per rule', async () => {
    const lenses = await s.conn.sendRequest(rpc.CodeLensRequest.type, { textDocument: { uri } });
    assert.deepEqual(
      lenses!.map((l) => [l.range.start.line, l.command!.title]),
      [
        [10, 'matches 5 layers'],
        [12, 'matches 0 layers'],
      ],
    );
  });

  test('code action fixes the unsupported bits', async () => {
    const pending = s.diagnostics(uri);
    s.conn.sendNotification(rpc.DidChangeTextDocumentNotification.type, { textDocument: { uri, version: 2 }, contentChanges: [{ text }] });
    const { diagnostics } = await pending;
    const actions = (await s.conn.sendRequest(rpc.CodeActionRequest.type, {
      textDocument: { uri },
      range: diagnostics[0].range,
      context: { diagnostics },
    })) as rpc.CodeAction[];
    const use4 = actions.find((a) => a.title === 'Use 4 bits')!;
    assert.deepEqual(use4.edit!.changes![uri], [
      { range: { start: { line: 11, character: 10 }, end: { line: 11, character: 11 } }, newText: '4' },
    ]);
    const remove = actions.find((a) => a.title === 'Remove rule 2');
    assert.ok(remove, actions.map((a) => a.title).join('|'));
  });

  test('custom requests: ruleForLayer; compress refused while the recipe has errors', async () => {
    const r = (await s.conn.sendRequest('lowbit/ruleForLayer', { uri, layer: 'layers.1.w2' })) as { rule: number };
    assert.equal(r.rule, 0);
    fs.writeFileSync(new URL(uri), text);
    await assert.rejects(s.conn.sendRequest('lowbit/compress', { uri }), /recipe has errors[\s\S]*3-bit/);
    assert.equal(await s.conn.sendRequest('lowbit/report', { uri }), null);
  });

  test('diagnostics are debounced: a burst of edits publishes once, for the last version', async () => {
    const u = `file://${dir}/burst.lowbit.yaml`;
    const first = s.diagnostics(u);
    s.open(u, text, 1);
    await first;
    const before = s.published.length;
    const last = s.diagnostics(u, 6);
    for (let v = 2; v <= 6; v++) {
      s.conn.sendNotification(rpc.DidChangeTextDocumentNotification.type, {
        textDocument: { uri: u, version: v },
        contentChanges: [{ text: text.replace('bits: 3', `bits: ${v % 2 ? 3 : 5}`) }],
      });
    }
    const p = await last;
    assert.deepEqual(
      s.published
        .slice(before)
        .filter((x) => x.uri === u)
        .map((x) => x.version),
      [6],
    );
    assert.ok(p.diagnostics.some((d) => d.code === 'unsupported-bits' && /5-bit/.test(String(d.message))));
  });

  test('a hostile document neither crashes nor hangs the server', async () => {
    const evil = `file://${dir}/evil.lowbit.yaml`;
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const pending = s.diagnostics(evil);
    s.open(evil, `${bomb.join('\n')}\nlayers:\n  - match: "re:(a+)+$"\n${'['.repeat(5000)}`);
    const { diagnostics } = await pending;
    assert.ok(diagnostics.length > 0);
    const h = await s.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri: evil }, position: { line: 0, character: 1 } });
    assert.ok(h === null || typeof h === 'object');
    const syms = await s.conn.sendRequest(rpc.DocumentSymbolRequest.type, { textDocument: { uri } });
    assert.ok(syms!.length > 0, 'the server still answers');
    assert.equal(s.child.exitCode, null);
  });
});

test('an untrusted workspace refuses compression', { skip }, async () => {
  const s = await startSession(undefined, { trusted: false });
  try {
    const uri = 'file:///tmp/none.lowbit.yaml';
    s.open(uri, 'version: 1\n');
    await assert.rejects(s.conn.sendRequest('lowbit/compress', { uri }), /untrusted/);
  } finally {
    await s.close();
  }
});

test('`lowbit lsp --stdio` starts the same server', async () => {
  const cli = path.resolve(__dirname, '..', '..', '..', 'bin', 'lowbit.js');
  const s = await startSession([cli, 'lsp', '--stdio']);
  try {
    const uri = 'file:///tmp/lowbit-cli-lsp/r.lowbit.yaml';
    const pending = s.diagnostics(uri);
    s.open(uri, 'version: 1\nmodle: x.onnx\n');
    const { diagnostics } = await pending;
    const d = diagnostics.find((x) => x.code === 'unknown-key')!;
    assert.deepEqual(d.range, { start: { line: 1, character: 0 }, end: { line: 1, character: 5 } });
    assert.match(String(d.message), /Did you mean `model`/);
  } finally {
    await s.close();
  }
});
