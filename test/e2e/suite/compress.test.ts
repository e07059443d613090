import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, openRecipe, haveModel, waitFor, workspaceDir } from './helpers';
import type { CompressOutcome } from '../../../extension/src/commands/compressAndEvaluate';

suite('compress and evaluate', () => {
  test('Compress and Evaluate writes a model + report and opens the report panel', async function () {
    if (!haveModel()) this.skip();
    this.timeout(240_000);
    const a = await api();
    await openRecipe('stories.lowbit.yaml');
    const result = await vscode.commands.executeCommand<CompressOutcome>('lowbit.compressAndEvaluate');
    assert.ok(result, 'the command returned a result');
    const out = join(workspaceDir(), 'out', 'stories-w4.onnx');
    assert.ok(existsSync(out), `${out} written`);
    assert.ok(existsSync(result.reportPath), `${result.reportPath} written`);
    const onDisk = JSON.parse(readFileSync(result.reportPath, 'utf8'));
    assert.equal(onDisk.version, 2, 'report version 2 (rel_error is the ratio everywhere)');
    assert.equal(onDisk.layers.length, 36);
    assert.equal(result.report.metrics.quantized.perplexity, onDisk.metrics.quantized.perplexity);
    const ppl = onDisk.metrics.quantized.perplexity,
      fp = onDisk.metrics.fp.perplexity;
    assert.ok(Number.isFinite(ppl) && ppl > 1 && ppl < fp * 3, `perplexity ${fp} → ${ppl}`);
    assert.ok(onDisk.size.bits_per_weight > 4 && onDisk.size.bits_per_weight < 8.7, `bits/weight ${onDisk.size.bits_per_weight}`);
    assert.ok(onDisk.size.quantized_bytes < onDisk.size.fp_bytes);
    assert.ok(a.ctx.panels.isOpen('report'), 'report panel opened when the run finished');
    // For the UI phase: the numbers the report panel must show.
    if (process.env.LOWBIT_E2E_OUT)
      writeFileSync(
        join(process.env.LOWBIT_E2E_OUT, 'expected-report.json'),
        JSON.stringify({ reportPath: result.reportPath, perplexity: [fp, ppl] }),
      );
  });

  test('cancelling a run stops it and leaves no output file', async function () {
    if (!haveModel()) this.skip();
    this.timeout(120_000);
    const a = await api();
    await openRecipe('slow.lowbit.yaml');
    const out = join(workspaceDir(), 'out', 'cancelled.onnx');
    const run = vscode.commands.executeCommand<CompressOutcome>('lowbit.compressAndEvaluate');
    // Cancel as soon as the server reports progress past loading (the job is really under way).
    let ended = false;
    const settled = run.then(
      (r) => {
        ended = true;
        return `ended first (result ${JSON.stringify(r)?.slice(0, 80)})`;
      },
      (e: Error) => {
        ended = true;
        return `failed first: ${e.message}`;
      },
    );
    const started = waitFor('the job to report progress', () => ended || (a.ctx.currentJob && (a.ctx.jobProgress ?? 0) > 5), 30_000).then(
      () => 'started',
      (e: Error) => e.message,
    );
    const first = await Promise.race([started, settled]);
    assert.equal(first, 'started', 'the job must be running when we cancel');
    assert.ok(a.ctx.cancelJob(), 'a job was running');
    const t0 = Date.now();
    const result = await run;
    assert.equal(result, undefined, 'a cancelled run returns no result');
    assert.ok(Date.now() - t0 < 30_000, `stopped within 30 s (${Date.now() - t0} ms)`);
    assert.ok(!existsSync(out), `${out} must not exist after cancel`);
    assert.ok(!existsSync(out.replace(/\.onnx$/, '.report.json')), 'no report after cancel');
  });
});
