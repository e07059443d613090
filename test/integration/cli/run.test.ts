import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../../protocol/report';
import { skipNoShared, stories } from '../engine/sharedFixtures';
import { runCli } from './cliHarness';

function recipe(dir: string, evalSamples = 4): string {
  const path = join(dir, 'w4.lowbit.yaml');
  writeFileSync(
    path,
    `version: 1
model: ${stories.model}
output: ./out/model-w4.onnx
format: matmulnbits
calibration:
  text: ${stories.text}
  tokenizer: ${stories.tokenizer}
  samples: 4
  sequence_length: 128
  offset: 10000
defaults: { method: rtn, bits: 4, group_size: 32, symmetric: false }
layers:
  - match: output
    bits: 8
evaluate:
  text: ${stories.text}
  samples: ${evalSamples}
  sequence_length: 256
  metrics: [perplexity, kl_divergence, top1_agreement, size, latency]
`,
  );
  return path;
}

describe('lowbit run (real process)', { skip: skipNoShared }, () => {
  test('prints progress per layer, the FP-vs-quantized table and the layer table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-cli-'));
    const r = await runCli(['run', recipe(dir)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[1\/36\] layers\.0\.wq \(rtn 4-bit\)$/m);
    assert.match(r.stderr, /^\[36\/36\] output \(rtn 8-bit\)$/m);
    assert.match(r.stdout, /^perplexity\s+\d+\.\d+\s+\d+\.\d+$/m);
    assert.match(r.stdout, /^KL p99\s+0\s+\d/m);
    assert.match(r.stdout, /^top-1 agreement\s+100\.00%\s+\d+\.\d+%$/m);
    assert.match(r.stdout, /^bits\/weight/m);
    assert.match(r.stdout, /^layers\.2\.w2\s+64x172\s+rtn\s+4\s+32\s+matmulnbits\s+\d\.\d+e-\d/m);
    assert.ok(existsSync(join(dir, 'out/model-w4.onnx')));
    assert.ok(existsSync(join(dir, 'out/model-w4.report.json')));
  });
  test('--json prints the report; recipe errors exit 1 with file:line:column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-cli-'));
    const r = await runCli(['run', recipe(dir), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.layers.length, 36);
    assert.equal(report.layers.find((l) => l.name === 'output')?.bits, 8);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'out/model-w4.report.json'), 'utf8')), report);
    const bad = join(dir, 'bad.lowbit.yaml');
    writeFileSync(bad, readFileSync(recipe(dir), 'utf8').replace('bits: 8', 'bits: 99'));
    const e = await runCli(['run', bad]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /bad\.lowbit\.yaml:\d+:\d+: error: /);
  });
  test('Ctrl-C (SIGINT) during evaluation cancels: exit 130, no output is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-cli-'));
    let sent = false;
    const r = await runCli(['run', recipe(dir, 56)], (chunk, child) => {
      if (!sent && /^evaluate: /m.test(chunk)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    assert.ok(sent, 'progress was seen');
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /cancelled; the output and its report are as they were before/);
    assert.equal(existsSync(join(dir, 'out/model-w4.onnx')), false);
    assert.deepEqual(
      readdirSync(join(dir, 'out')).filter((f) => !f.startsWith('.')),
      [],
    );
  });
  test('SIGTERM during evaluation cancels like SIGINT (exit 143): the previous model and report stay byte-identical', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-cli-'));
    const first = await runCli(['run', recipe(dir)]);
    assert.equal(first.code, 0, first.stderr);
    const files = ['out/model-w4.onnx', 'out/model-w4.report.json'].map((f) => join(dir, f));
    const before = files.map((f) => readFileSync(f));
    let sent = false;
    const r = await runCli(['run', recipe(dir, 56)], (chunk, child) => {
      if (!sent && /^evaluate: /m.test(chunk)) {
        sent = true;
        child.kill('SIGTERM');
      }
    });
    assert.ok(sent, 'progress was seen');
    assert.equal(r.code, 143, r.stderr);
    assert.deepEqual(
      files.map((f) => readFileSync(f)),
      before,
    );
    assert.deepEqual(
      readdirSync(join(dir, 'out')).filter((f) => f.startsWith('.') && f !== '.lowbit-history'),
      [],
    );
  });
});
