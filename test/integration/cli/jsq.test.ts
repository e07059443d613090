/**
 * A JSQ job end to end as a real `lowbit` process on stories260K: 50% sparsity W8A8 (SmoothQuant's
 * activation QDQ after the activation editor), stored packed; the report's per-layer sparsity and the
 * editor's search; `lowbit check` puts the bad JSQ combinations on their lines.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../../protocol/report';
import { skipNoShared, stories } from '../engine/sharedFixtures';
import { runCli } from './cliHarness';

function recipe(dir: string, name: string, defaults: string, rules = ''): string {
  const path = join(dir, `${name}.lowbit.yaml`);
  writeFileSync(
    path,
    `version: 1
model: ${stories.model}
output: ./out/${name}.onnx
format: auto
calibration:
  text: ${stories.text}
  tokenizer: ${stories.tokenizer}
  samples: 4
  sequence_length: 128
  offset: 10000
defaults: ${defaults}
layers:
  - match: output
    skip: true
${rules}evaluate:
  text: ${stories.text}
  samples: 4
  sequence_length: 128
  metrics: [perplexity, size]
`,
  );
  return path;
}

describe('lowbit run with method jsq (real process)', { skip: skipNoShared }, () => {
  test('jsq 50% W8A8: every layer half pruned and packed, activation QDQ, the editor search in the report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-jsq-'));
    const r = await runCli([
      'run',
      recipe(dir, 'jsq', '{ method: jsq, bits: 8, sparsity: 0.5, group_size: 32, symmetric: false }'),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as Report;
    assert.equal(rep.layers.length, 35);
    assert.ok(existsSync(join(dir, 'out/jsq.onnx')));
    assert.ok(Number.isFinite(rep.metrics.quantized.perplexity));
    for (const l of rep.layers) {
      assert.equal(l.method, 'jsq');
      assert.equal(l.format, 'packed');
      assert.equal(l.sparsity?.pruned, 0.5, l.name);
      assert.equal(l.smoothing?.activation_bits, 8);
      assert.deepEqual(
        l.jsq!.search.map((s) => s.fraction),
        [0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05],
      );
      assert.ok(l.jsq!.sample_tokens > 0);
    }
  });

  test('lowbit check: bad JSQ combinations are errors on their lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-jsq-'));
    const path = recipe(
      dir,
      'bad',
      '{ method: jsq, bits: 8, sparsity: 0.5, group_size: 32 }',
      '  - match: "layers.*.w2"\n    sparsity: "4:8"\n  - match: "layers.*.wq"\n    method: osplus\n  - match: "layers.*.wk"\n    settings: { clip_max: 0.2, pruner: obs }\n',
    );
    const r = await runCli(['check', path]);
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      /bad\.lowbit\.yaml:11:45: error: osplus cannot prune; `sparsity` needs method sparsegpt, wanda, magnitude or jsq \(or smoothquant \/ awq, which prune after scaling\)/,
    );
    assert.match(out, /bad\.lowbit\.yaml:16:15: error: 4:8 sparsity needs an input width that is a multiple of 8; layers\.0\.w2/);
    assert.match(out, /bad\.lowbit\.yaml:20:27: error: `jsq\.clip_max` must be a number ≥ 0 and ≤ 0\.05 \(got 0\.2\)/);
    assert.match(out, /bad\.lowbit\.yaml:20:40: error: `jsq\.pruner` must be one of jsq, sparsegpt \(got `obs`\)/);
  });
});
