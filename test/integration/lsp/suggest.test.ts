/**
 * lowbit/suggest over a real stdio LSP connection on stories260K (three layers, proxy estimate, so it
 * is quick): the code lens above `budget:`, work-done progress per layer, and the result as a
 * WorkspaceEdit whose change annotation needs confirmation (VS Code shows it as a diff to accept).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { startSession, storiesModel, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';
import { readRecipe } from '../../../recipe/checkRecipe';

const skip = !fs.existsSync(storiesModel) ? `stories260K not found at ${storiesModel} (needs ../shared)` : false;

describe('lowbit/suggest over stdio on stories260K', { skip }, () => {
  let s: LspSession;
  let dir: string;
  let uri: string;
  let recipe: string;
  const progress: (rpc.WorkDoneProgressBegin | rpc.WorkDoneProgressReport | rpc.WorkDoneProgressEnd)[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-suggest-lsp-'));
    recipe = storiesRecipe([
      '  samples: 2',
      '  sequence_length: 32',
      'defaults: { method: rtn, bits: 4, group_size: 32 }',
      'layers:',
      '  - match: "*"',
      '    skip: true',
      '  - match: "re:layers\\\\.1\\\\.w[123]"',
      '    skip: false',
      'budget: { bits_per_weight: 5, estimate: proxy, methods: [rtn] }',
    ]);
    fs.writeFileSync(path.join(dir, 'r.lowbit.yaml'), recipe);
    uri = `file://${dir}/r.lowbit.yaml`;
    s = await startSession();
    s.conn.onProgress(rpc.WorkDoneProgress.type, 'suggest-1', (v) => {
      progress.push(v);
    });
    s.open(uri, recipe);
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('code lens above budget: runs lowbit.suggestBudget', async () => {
    let lenses: rpc.CodeLens[] | null = null;
    for (let i = 0; i < 50 && !lenses?.some((l) => l.command?.command === 'lowbit.suggestBudget'); i++) {
      lenses = await s.conn.sendRequest(rpc.CodeLensRequest.type, { textDocument: { uri } });
      await new Promise((r) => setTimeout(r, 200));
    }
    const lens = lenses!.find((l) => l.command?.command === 'lowbit.suggestBudget')!;
    assert.equal(lens.command!.title, 'Suggest rules for this budget');
    assert.equal(
      lens.range.start.line,
      recipe.split('\n').findIndex((l) => l.startsWith('budget:')),
    );
    assert.deepEqual(lens.command!.arguments, [uri]);
  });

  test('suggest: progress per layer, a confirm-annotated edit that writes the rules', async () => {
    const res = (await s.conn.sendRequest('lowbit/suggest', { uri, workDoneToken: 'suggest-1' })) as {
      result: {
        layers: { name: string; chosen: number }[];
        candidates: { bits: number; groupSize: number }[];
        chosen: { bitsPerWeight: number };
        yaml: string;
      };
      edit: rpc.WorkspaceEdit;
    };
    assert.deepEqual(
      res.result.layers.map((l) => l.name),
      ['layers.1.w1', 'layers.1.w3', 'layers.1.w2'],
    );
    assert.ok(res.result.chosen.bitsPerWeight <= 5);
    assert.equal(progress[0].kind, 'begin');
    const messages = progress.filter((p): p is rpc.WorkDoneProgressReport => p.kind === 'report').map((p) => p.message ?? '');
    assert.ok(
      messages.some((m) => m.startsWith('layers.1.w')),
      messages.join(' | '),
    );
    assert.equal(progress.at(-1)!.kind, 'end');
    const change = res.edit.documentChanges![0] as rpc.TextDocumentEdit;
    assert.equal(change.textDocument.uri, uri);
    const edit = change.edits[0] as rpc.AnnotatedTextEdit;
    assert.equal(res.edit.changeAnnotations![edit.annotationId].needsConfirmation, true);
    const doc = TextDocument.create(uri, 'lowbit-recipe', 1, recipe);
    const next = TextDocument.applyEdits(doc, [edit]);
    const r = readRecipe(next);
    assert.deepEqual(r.diagnostics, []);
    // The user's skip rule stays first; the suggested rules follow and give each layer its choice.
    assert.equal(r.rules[0].skip?.value, true);
    assert.ok(r.rules.length > 1);
    // A clicked Pareto point's rules come back as the same kind of edit.
    const again = (await s.conn.sendRequest('lowbit/suggestEdit', { uri, yaml: res.result.yaml, summary: 'again' })) as {
      edit: rpc.WorkspaceEdit;
    };
    assert.match(
      ((again.edit.documentChanges![0] as rpc.TextDocumentEdit).edits[0] as rpc.TextEdit).newText,
      /# lowbit suggest: begin \(again\)/,
    );
  });

  test('suggest is cancellable: cancelling while layers are measured rejects, and the recipe is untouched', async () => {
    // Every layer, KL estimate: long enough to cancel in the middle.
    const whole = storiesRecipe(['  samples: 2', '  sequence_length: 32', 'budget: { bits_per_weight: 3.5, samples: 2 }']);
    const file = path.join(dir, 'whole.lowbit.yaml');
    fs.writeFileSync(file, whole);
    const wholeUri = `file://${file}`;
    s.open(wholeUri, whole);
    const reports: string[] = [];
    const source = new rpc.CancellationTokenSource();
    s.conn.onProgress(rpc.WorkDoneProgress.type, 'suggest-cancel', (v) => {
      if (v.kind !== 'report') return;
      reports.push(v.message ?? '');
      // Cancel once the second layer is being measured.
      if (/^layers\.0\.wk/.test(v.message ?? '')) source.cancel();
    });
    const pending = s.conn.sendRequest('lowbit/suggest', { uri: wholeUri, workDoneToken: 'suggest-cancel' }, source.token);
    await assert.rejects(pending, (e: rpc.ResponseError<unknown>) => e.code === rpc.LSPErrorCodes.RequestCancelled);
    assert.ok(
      reports.some((m) => m.startsWith('layers.0.wk')),
      reports.join(' | '),
    );
    assert.ok(!reports.some((m) => m.startsWith('layers.4.')), `stopped early: ${reports.join(' | ')}`);
    assert.equal(fs.readFileSync(file, 'utf8'), whole);
  });
});
