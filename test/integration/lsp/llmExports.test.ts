import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { buildOptimumDecoder } from '../../fixtures/llm';
import { startSession, storiesModel, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';

const skip = fs.existsSync(storiesModel) ? false : `stories260K not found at ${storiesModel} (needs ../shared)`;

describe('language server over stdio on an optimum-style KV-cache decoder', { skip }, () => {
  let s: LspSession;
  let dir: string;
  let uri: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-llm-'));
    const f = buildOptimumDecoder(dir, { storiesModel });
    uri = `file://${dir}/decoder.lowbit.yaml`;
    s = await startSession();
    const text = storiesRecipe([
      '  samples: 4',
      'layers:',
      '  - match: "*.self_attn.*_proj"',
      '    bits: 8',
      'inputs:',
      '  position_ids: positions',
      '  ',
    ]).replace(`model: ${storiesModel}`, `model: ${f.path}`);
    const pending = s.diagnostics(uri);
    s.open(uri, text);
    const { diagnostics } = await pending;
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === rpc.DiagnosticSeverity.Error),
      [],
    );
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('match completion and hover use readable layer names', async () => {
    const items = (await s.conn.sendRequest(rpc.CompletionRequest.type, {
      textDocument: { uri },
      position: { line: 9, character: 11 },
    })) as rpc.CompletionItem[];
    const names = items.map((i) => i.label);
    for (const n of ['layers.0.self_attn.q_proj', 'layers.4.mlp.down_proj', 'lm_head', 'layers.*.mlp.down_proj'])
      assert.ok(names.includes(n), n);
    assert.ok(!names.some((n) => n.startsWith('onnx::')));
    const h = await s.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri }, position: { line: 9, character: 15 } });
    assert.match((h!.contents as rpc.MarkupContent).value, /matches \*\*20\*\* layers/);
  });

  test("inputs: completes the model's real input names with their default rule", async () => {
    const items = (await s.conn.sendRequest(rpc.CompletionRequest.type, {
      textDocument: { uri },
      position: { line: 13, character: 2 },
    })) as rpc.CompletionItem[];
    const byLabel = new Map(items.map((i) => [i.label, i]));
    assert.ok(!byLabel.has('position_ids'), 'already present');
    assert.equal((byLabel.get('attention_mask')!.textEdit as rpc.TextEdit).newText, 'attention_mask: attention_mask');
    assert.equal((byLabel.get('past_key_values.3.value')!.textEdit as rpc.TextEdit).newText, 'past_key_values.3.value: empty_past');
    assert.equal(items.length, 12);
  });
});
