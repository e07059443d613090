/**
 * HQQ and AdaRound settings over the real language server (stdio): diagnostics, completion and hover
 * all come from the schema.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';

const skip = fs.existsSync(storiesModel) ? false : `stories260K not found at ${storiesModel} (needs ../shared)`;

describe('hqq / adaround settings over the LSP', { skip }, () => {
  let s: LspSession;
  const uri = 'file:///tmp/lowbit-lsp-rounding/r.lowbit.yaml';
  const text = storiesRecipe([
    '  samples: 4',
    'defaults: { method: adaround, bits: 4, group_size: 32 }',
    'methods:',
    '  hqq: { lp_norm: 1.5, kapa: 1.1 }',
    '  adaround: { base: awq, iterations: 10 }',
    'layers:',
    '  - match: "layers.*.w2"',
    '    method: hqq',
    '  - match: "layers.*.w1"',
    '    method: hqq',
    '    bits: 8',
  ]);
  const w2Hqq = text.split('\n').findIndex((l) => l.includes('"layers.*.w2"')) + 1;
  const lines = text.split('\n');
  const at = (line: number, word: string) => ({ line, character: lines[line]!.indexOf(word) });
  before(async () => {
    s = await startSession();
  });
  after(async () => {
    await s?.close();
  });

  test('out-of-range, unknown and bad enum settings are diagnosed at their spans', async () => {
    const pending = s.diagnostics(uri);
    s.open(uri, text);
    const { diagnostics } = await pending;
    const on = (line: number, word: string) =>
      diagnostics.find((d) => d.range.start.line === line && d.range.start.character === at(line, word).character);
    const hqqLine = lines.findIndex((l) => l.includes('lp_norm'));
    const adaLine = lines.findIndex((l) => l.includes('base: awq'));
    const lp = on(hqqLine, '1.5');
    assert.ok(lp, JSON.stringify(diagnostics));
    assert.equal(lp.severity, rpc.DiagnosticSeverity.Error);
    assert.match(String(lp.message), /1/);
    const kapa = on(hqqLine, 'kapa');
    assert.ok(kapa, JSON.stringify(diagnostics));
    assert.match(String(kapa.message), /kappa/);
    // hqq (zero_point float by default) under matmulnbits: MatMulNBits stores float zero points at 4
    // bits (the w2 rule: no fallback), not at 8 (the w1 rule: told it is written fake-quant).
    const fakes = diagnostics.filter((d) => d.code === 'format-fallback' && /zero_point: float/.test(String(d.message)));
    assert.equal(fakes.length, 1, JSON.stringify(diagnostics));
    assert.equal(fakes[0]!.range.start.line, lines.length - 3);
    assert.notEqual(fakes[0]!.range.start.line, w2Hqq);
    assert.match(String(fakes[0]!.message), /layers\.0\.w1.*fake-quant/);
    assert.match(String(fakes[0]!.message), /at 8 bits/);
    const base = on(adaLine, 'awq');
    assert.ok(base, JSON.stringify(diagnostics));
    assert.match(String(base.message), /rtn.*gptq|gptq.*rtn/);
  });

  test('completion lists the method settings; hover shows their docs', async () => {
    const hqqLine = lines.findIndex((l) => l.includes('lp_norm'));
    const items = (await s.conn.sendRequest(rpc.CompletionRequest.type, {
      textDocument: { uri },
      position: at(hqqLine, 'lp_norm'),
    })) as rpc.CompletionItem[];
    const labels = items.map((i) => i.label);
    for (const k of ['iterations', 'lp_norm', 'beta', 'kappa', 'zero_point']) assert.ok(labels.includes(k), `${k} in ${labels.join()}`);
    const hover = (await s.conn.sendRequest(rpc.HoverRequest.type, {
      textDocument: { uri },
      position: { ...at(hqqLine, 'lp_norm'), character: at(hqqLine, 'lp_norm').character + 2 },
    })) as rpc.Hover;
    assert.match(JSON.stringify(hover.contents), /lp error norm/);
    const method = (await s.conn.sendRequest(rpc.HoverRequest.type, {
      textDocument: { uri },
      position: { ...at(lines.length - 3, 'hqq'), character: at(lines.length - 3, 'hqq').character + 1 },
    })) as rpc.Hover;
    assert.match(JSON.stringify(method.contents), /Half-Quadratic/);
  });
});
