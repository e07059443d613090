import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';

const skip = fs.existsSync(storiesModel) ? false : `stories260K not found at ${storiesModel} (needs ../shared)`;

describe('language server over stdio: sparsity checks against the real model', { skip }, () => {
  let s: LspSession;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-sparse-'));
    s = await startSession();
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('N:M the 172-wide w2 cannot hold and sparsity with rtn are errors on the sparsity values; hover documents the key', async () => {
    const uri = `file://${dir}/sparse.lowbit.yaml`;
    const text = storiesRecipe([
      '  samples: 4',
      'defaults: { method: sparsegpt, bits: 4, group_size: 32, sparsity: 0.5 }',
      'layers:',
      '  - match: "layers.*.w2"',
      '    sparsity: "4:8"',
      '  - match: "layers.*.wq"',
      '    method: rtn',
      '  - match: "layers.*.wk"',
      '    format: matmulnbits',
    ]);
    const pending = s.diagnostics(uri);
    s.open(uri, text);
    const { diagnostics } = await pending;
    const width = diagnostics.find((d) => d.code === 'sparsity-width')!;
    assert.ok(width, JSON.stringify(diagnostics));
    assert.deepEqual(width.range, { start: { line: 11, character: 14 }, end: { line: 11, character: 19 } });
    assert.equal(width.severity, rpc.DiagnosticSeverity.Error);
    assert.match(String(width.message), /multiple of 8; layers\.0\.w2.* have 172/);
    // rtn inherits the defaults' sparsity: the error sits on the defaults' value.
    const method = diagnostics.find((d) => d.code === 'sparsity-method')!;
    assert.ok(method, JSON.stringify(diagnostics));
    assert.equal(method.range.start.line, 8);
    assert.match(String(method.message), /rtn cannot prune.*layers\.0\.wq/);
    // matmulnbits keeps dense zeros: said on the format that chose it (the rule's, and the top-level one for the rest).
    const dense = diagnostics.filter((d) => d.code === 'sparsity-dense');
    assert.deepEqual(
      dense.map((d) => d.range.start.line).sort((a, b) => a - b),
      [3, 15],
    );
    assert.ok(dense.every((d) => d.severity === rpc.DiagnosticSeverity.Information));
    assert.match(String(dense.find((d) => d.range.start.line === 15)!.message), /layers\.0\.wk.*dense zeros/);
    const hover = (await s.conn.sendRequest(rpc.HoverRequest.type, {
      textDocument: { uri },
      position: { line: 11, character: 6 },
    })) as rpc.Hover;
    assert.match(JSON.stringify(hover.contents), /2:4.*4:8/);
  });
});
