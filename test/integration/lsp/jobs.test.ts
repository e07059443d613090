import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel, sharedDir, storiesRecipe } from './lspClient';
import type { LspSession } from './lspClient';

const nativeIndex = path.resolve(__dirname, '..', '..', '..', 'native', 'ts', 'index.ts');
const skip = !fs.existsSync(storiesModel)
  ? `stories260K not found at ${storiesModel} (needs ../shared)`
  : !fs.existsSync(nativeIndex)
    ? `the native kernels (${nativeIndex}) are not in this tree yet; jobs cannot run`
    : false;

describe('lowbit/compress over stdio on stories260K', { skip }, () => {
  let s: LspSession;
  let dir: string;
  let uri: string;
  const progress: { token: string | number; value: rpc.WorkDoneProgressBegin | rpc.WorkDoneProgressReport | rpc.WorkDoneProgressEnd }[] =
    [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-job-'));
    const recipe = storiesRecipe([
      '  samples: 2',
      '  sequence_length: 32',
      'defaults: { method: rtn, bits: 4, group_size: 32 }',
      'layers:',
      '  - match: output',
      '    bits: 8',
      'evaluate:',
      `  text: ${path.join(sharedDir, 'data', 'tinystories-sample.txt')}`,
      '  samples: 2',
      '  sequence_length: 32',
      '  offset: 2048',
      '  metrics: [perplexity, size]',
    ]);
    fs.writeFileSync(path.join(dir, 'r.lowbit.yaml'), recipe);
    uri = `file://${dir}/r.lowbit.yaml`;
    s = await startSession();
    for (const token of ['job-1', 'job-2'])
      s.conn.onProgress(rpc.WorkDoneProgress.type, token, (value) => {
        progress.push({ token, value });
      });
    s.open(uri, recipe);
  });
  after(async () => {
    await s?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('compress reports work-done progress and returns the report', async () => {
    const res = (await s.conn.sendRequest('lowbit/compress', { uri, workDoneToken: 'job-1' })) as {
      reportPath: string;
      report: { layers: { name: string; bits: number }[] };
    };
    assert.equal(res.reportPath, path.join(dir, 'out', 'w4.report.json'));
    assert.ok(fs.existsSync(path.join(dir, 'out', 'w4.onnx')));
    assert.equal(res.report.layers.length, 36);
    assert.equal(res.report.layers.find((l) => l.name === 'output')!.bits, 8);
    const mine = progress.filter((p) => p.token === 'job-1').map((p) => p.value);
    assert.equal(mine[0].kind, 'begin');
    assert.equal((mine[0] as rpc.WorkDoneProgressBegin).cancellable, true);
    assert.ok(mine.some((v) => v.kind === 'report'));
    assert.equal(mine[mine.length - 1].kind, 'end');
    const rep = (await s.conn.sendRequest('lowbit/report', { uri })) as { reportPath: string } | null;
    assert.equal(rep?.reportPath, res.reportPath);
    const h = await s.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri }, position: { line: 11, character: 12 } });
    assert.match((h!.contents as rpc.MarkupContent).value, /Last run \(rtn, 8 bit\): rel_error/);
  });

  test('sensitivity streams updates and resolves with one entry per planned layer', async () => {
    const updates: { layers: { name: string; proxy: number; kl?: number }[]; done: boolean }[] = [];
    s.conn.onNotification('lowbit/sensitivityUpdate', (p: (typeof updates)[number]) => {
      updates.push(p);
    });
    // Only block 0 and the head are planned, to keep the per-layer KL pass short.
    const small = fs
      .readFileSync(path.join(dir, 'r.lowbit.yaml'), 'utf8')
      .replace('layers:\n', 'layers:\n  - match: "layers.{1,2,3,4}.*"\n    skip: true\n');
    fs.writeFileSync(path.join(dir, 'small.lowbit.yaml'), small);
    const smallUri = `file://${dir}/small.lowbit.yaml`;
    s.open(smallUri, small);
    const res = (await s.conn.sendRequest('lowbit/sensitivity', { uri: smallUri, workDoneToken: 'job-3' })) as {
      layers: { name: string; proxy: number; kl?: number }[];
    };
    assert.deepEqual(res.layers.map((l) => l.name).sort(), [
      'layers.0.w1',
      'layers.0.w2',
      'layers.0.w3',
      'layers.0.wk',
      'layers.0.wo',
      'layers.0.wq',
      'layers.0.wv',
      'output',
    ]);
    assert.ok(res.layers.every((l) => Number.isFinite(l.proxy) && l.proxy >= 0));
    assert.ok(updates.length >= 2);
    assert.equal(updates[updates.length - 1].done, true);
    const mp = (await s.conn.sendRequest('lowbit/mixedPrecision', {
      uri: smallUri,
      layers: res.layers,
      highBits: 8,
      budgetFraction: 0.1,
    })) as { chosen: string[]; edit: { changes: Record<string, unknown[]> } };
    assert.ok(mp.chosen.length > 0);
    assert.equal(mp.edit.changes[smallUri].length, 1);
  });

  test('an open recipe runs as the editor holds it, not as the (older) file on disk', async () => {
    // A save still in flight when the job starts: the disk has 8-bit output, the editor 2-bit.
    const disk = fs.readFileSync(path.join(dir, 'r.lowbit.yaml'), 'utf8').replace('w4.onnx', 'edited.onnx');
    const edited = disk.replace('  - match: output\n    bits: 8', '  - match: output\n    bits: 2');
    assert.notEqual(edited, disk);
    fs.writeFileSync(path.join(dir, 'edited.lowbit.yaml'), disk);
    const editedUri = `file://${dir}/edited.lowbit.yaml`;
    s.open(editedUri, edited);
    const res = (await s.conn.sendRequest('lowbit/compress', { uri: editedUri })) as {
      report: { output: string; layers: { name: string; bits: number }[] };
    };
    assert.equal(res.report.output, path.join(dir, 'out', 'edited.onnx'));
    assert.equal(res.report.layers.find((l) => l.name === 'output')!.bits, 2);
  });

  test('a cancelled compress rejects and leaves no output', async () => {
    fs.rmSync(path.join(dir, 'out'), { recursive: true, force: true });
    const source = new rpc.CancellationTokenSource();
    const pending = s.conn.sendRequest('lowbit/compress', { uri, workDoneToken: 'job-2' }, source.token);
    setTimeout(() => source.cancel(), 50);
    await assert.rejects(pending, (e: rpc.ResponseError<unknown>) => e.code === rpc.LSPErrorCodes.RequestCancelled);
    assert.equal(fs.existsSync(path.join(dir, 'out', 'w4.onnx')), false);
  });
});
