/** `rotation: hadamard` diagnostics over the real stdio LSP connection: a pre-LN LayerNorm decoder is accepted, a post-LN encoder refused naming its LayerNorm. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { buildBertEncoder } from '../../fixtures/llm';
import { buildLayerNormDecoder } from '../../fixtures/llm/layerNormDecoder';
import { startSession, storiesModel, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';

const skip = fs.existsSync(storiesModel) ? false : `stories260K not found at ${storiesModel} (needs ../shared)`;

describe('language server over stdio: rotation of LayerNorm models', { skip }, () => {
  let s: LspSession;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-rotation-'));
    s = await startSession();
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const check = async (model: string, name: string) => {
    const uri = `file://${dir}/${name}.lowbit.yaml`;
    const text = storiesRecipe(['  samples: 4', 'defaults: { method: rtn, bits: 4 }', 'rotation:', '  method: hadamard']).replace(
      `model: ${storiesModel}`,
      `model: ${model}`,
    );
    const pending = s.diagnostics(uri);
    s.open(uri, text);
    return (await pending).diagnostics;
  };

  test('a GPT-2-style decoder with LayerNorms (decomposed and fused) has no rotation error', async () => {
    for (const norm of ['layernorm', 'decomposed', 'skip'] as const) {
      const f = buildLayerNormDecoder(dir, { norm });
      const ds = await check(f.path, norm);
      assert.deepEqual(
        ds.filter((d) => d.severity === rpc.DiagnosticSeverity.Error).map((d) => d.message),
        [],
        norm,
      );
    }
  });

  test('a post-LN BERT encoder: an error on `rotation.method` naming its first LayerNorm', async () => {
    const f = buildBertEncoder(dir, {});
    const ds = await check(f.path, 'bert');
    const d = ds.find((x) => x.code === 'rotation-unsupported');
    assert.ok(d, JSON.stringify(ds.map((x) => x.message)));
    assert.equal(d.severity, rpc.DiagnosticSeverity.Error);
    assert.equal(d.range.start.line, 10);
    assert.match(
      String(d.message),
      /cannot rotate this model: LayerNormalization '\/bert\/embeddings\/LayerNorm\/LayerNormalization': is a post-LN norm/,
    );
  });
});
