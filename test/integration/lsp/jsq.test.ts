import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';

const skip = fs.existsSync(storiesModel) ? false : `stories260K not found at ${storiesModel} (needs ../shared)`;

describe('language server over stdio: bad JSQ combinations against the real model', { skip }, () => {
  let s: LspSession;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-jsq-'));
    s = await startSession();
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('settings out of range, a non-pruning method under a jsq sparsity, N:M the width cannot hold, jsq without sparsity', async () => {
    const uri = `file://${dir}/jsq.lowbit.yaml`;
    const text = storiesRecipe([
      '  samples: 4',
      'defaults: { method: jsq, bits: 8, group_size: 32, sparsity: 0.5 }',
      'layers:',
      '  - match: "layers.*.w2"',
      '    sparsity: "4:8"',
      '  - match: "layers.*.wq"',
      '    method: osplus',
      '  - match: "layers.*.wk"',
      '    settings: { clip_max: 0.2, pruner: obs, rho: -1 }',
      '  - match: "layers.*.wv"',
      '    sparsity: 0',
    ]);
    const pending = s.diagnostics(uri);
    s.open(uri, text);
    const { diagnostics } = await pending;
    const at = (line: number, re: RegExp) => {
      const d = diagnostics.find((x) => x.range.start.line === line && re.test(String(x.message)));
      assert.ok(
        d,
        `no diagnostic on line ${line} matching ${re}: ${JSON.stringify(diagnostics.map((x) => [x.range.start.line, x.message]))}`,
      );
      return d;
    };
    assert.equal(at(15, /`jsq\.clip_max` must be a number ≥ 0 and ≤ 0\.05 \(got 0\.2\)/).severity, rpc.DiagnosticSeverity.Error);
    assert.equal(at(15, /`jsq\.pruner` must be one of jsq, sparsegpt \(got `obs`\)/).severity, rpc.DiagnosticSeverity.Error);
    assert.equal(at(15, /`jsq\.rho` must be a number ≥ 0/).severity, rpc.DiagnosticSeverity.Error);
    // osplus inherits the defaults' sparsity: the error sits on the defaults' value and names jsq as a pruner.
    assert.equal(
      at(
        8,
        /osplus cannot prune; `sparsity` needs method sparsegpt, wanda, magnitude or jsq \(or smoothquant \/ awq, which prune after scaling\) — layers\.0\.wq/,
      ).severity,
      rpc.DiagnosticSeverity.Error,
    );
    assert.equal(at(11, /4:8 sparsity needs an input width that is a multiple of 8; layers\.0\.w2/).severity, rpc.DiagnosticSeverity.Error);
    assert.equal(
      at(8, /jsq without a `sparsity` prunes nothing \(it is smoothquant with the activation editor\) — layers\.0\.wv/).severity,
      rpc.DiagnosticSeverity.Information,
    );
    const hover = (await s.conn.sendRequest(rpc.HoverRequest.type, {
      textDocument: { uri },
      position: { line: 8, character: 20 },
    })) as rpc.Hover;
    assert.match(JSON.stringify(hover.contents), /JSQ/);
  });
});
