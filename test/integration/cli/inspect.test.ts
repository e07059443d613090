import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelSummary } from '../../../protocol/model';
import { skipNoShared, stories } from '../engine/sharedFixtures';
import { runCli } from './cliHarness';

describe('lowbit inspect / dispatch (real process)', () => {
  test('inspect --json lists the 36 stories260K MatMul layers', { skip: skipNoShared }, async () => {
    const r = await runCli(['inspect', stories.model, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as ModelSummary;
    const q = s.layers.filter((l) => l.quantizable && !l.embedding);
    assert.equal(q.length, 36);
    assert.deepEqual(q.find((l) => l.name === 'layers.0.w1')?.shape, [172, 64]);
    assert.equal(s.inputs[0].name, 'input_ids');
  });
  test('inspect prints a table', { skip: skipNoShared }, async () => {
    const r = await runCli(['inspect', stories.model]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /layers\.4\.w2\s+MatMul\s+64x172/);
    assert.match(r.stdout, /tok_embeddings\s+Gather.*yes \(embedding, opt-in\)/);
  });
  test('exit codes: missing model 1, usage 2, unknown command 2, --version 0', async () => {
    const missing = await runCli(['inspect', '/nonexistent/model.onnx']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\/nonexistent\/model\.onnx/);
    assert.equal((await runCli(['inspect'])).code, 2);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const v = await runCli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+/);
    assert.equal((await runCli(['run'])).code, 2);
  });
});
