/**
 * A pruning job end to end as a real `lowbit` process on stories260K: SparseGPT 50% (4-bit survivors)
 * stored packed as bitmap + surviving codes, the same recipe dense, the report's per-layer sparsity
 * and the `pruned` column; `lowbit check` puts a sparsity error on the rule's line; pruning joined with
 * SmoothQuant W8A8 (Wanda and SparseGPT after the scales), and 2:4 layers stored as index codes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Report } from '../../../protocol/report';
import { skipNoShared, stories } from '../engine/sharedFixtures';
import { runCli } from './cliHarness';

function recipe(dir: string, name: string, rule: string): string {
  const path = join(dir, `${name}.lowbit.yaml`);
  writeFileSync(
    path,
    `version: 1
model: ${stories.model}
output: ./out/${name}.onnx
format: packed
calibration:
  text: ${stories.text}
  tokenizer: ${stories.tokenizer}
  samples: 4
  sequence_length: 128
  offset: 10000
defaults: { method: sparsegpt, bits: 4, group_size: 32, symmetric: false }
layers:
  - match: output
    skip: true
${rule}evaluate:
  text: ${stories.text}
  samples: 4
  sequence_length: 128
  metrics: [perplexity, size]
`,
  );
  return path;
}

describe('lowbit run with sparsity (real process)', { skip: skipNoShared }, () => {
  test('sparsegpt 50%: every layer half pruned, a smaller packed file than the dense run, the pruned column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-sparse-'));
    const sparse = await runCli(['run', recipe(dir, 'sparse', '  - match: "layers.*"\n    sparsity: 0.5\n'), '--json']);
    assert.equal(sparse.code, 0, sparse.stderr);
    const dense = await runCli(['run', recipe(dir, 'dense', '')]);
    assert.equal(dense.code, 0, dense.stderr);
    const r = JSON.parse(sparse.stdout) as Report;
    assert.equal(r.layers.length, 35);
    for (const l of r.layers) {
      assert.equal(l.format, 'packed');
      assert.equal(l.sparsity?.pattern, '0.5');
      assert.ok(Math.abs(l.sparsity!.pruned - 0.5) < 0.01, `${l.name}: pruned ${l.sparsity!.pruned}`);
      assert.equal(l.sparsity!.mask.values.length, l.sparsity!.mask.rows * l.sparsity!.mask.cols);
    }
    const a = statSync(join(dir, 'out/sparse.onnx')).size,
      b = statSync(join(dir, 'out/dense.onnx')).size;
    assert.ok(a < b - 5000, `sparse ${a} B vs dense ${b} B`);
    assert.match(
      dense.stdout,
      /^layers\.0\.wq\s+64x64\s+sparsegpt\s+4\s+32\s+packed\s+\S+\s+\S+$/m,
      'no pruned column when nothing is pruned',
    );
    const again = await runCli(['run', recipe(dir, 'sparse', '  - match: "layers.*"\n    sparsity: 0.5\n')]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^layers\.0\.wq\s+64x64\s+sparsegpt\s+4\s+32\s+packed\s+\S+\s+\S+\s+50\.0% \(0\.5, bitmap\)$/m);
  });

  test('lowbit check: 4:8 on the 172-wide w2 and sparsity with gptq are errors on their lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-sparse-'));
    const path = recipe(
      dir,
      'bad',
      '  - match: "layers.*.w2"\n    sparsity: "4:8"\n  - match: "layers.*.wq"\n    method: gptq\n    sparsity: 0.5\n',
    );
    const r = await runCli(['check', path]);
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    assert.match(out, /bad\.lowbit\.yaml:16:15: error: 4:8 sparsity needs an input width that is a multiple of 8; layers\.0\.w2/);
    assert.match(out, /bad\.lowbit\.yaml:19:15: error: gptq cannot prune/);
  });

  test('Wanda+SmoothQuant and SparseGPT+SmoothQuant W8A8 at 50% (the JSQ baselines), and 2:4 stored as index codes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-sparse-sq-'));
    const rule = (how: string, sparsity: string) =>
      `  - match: "layers.*"\n    method: smoothquant\n    bits: 8\n    sparsity: ${sparsity}\n    settings: { activation_bits: 8, sparsity_method: ${how} }\n`;
    const reports: Record<string, Report> = {};
    for (const how of ['wanda', 'sparsegpt']) {
      const r = await runCli(['run', recipe(dir, `sq-${how}`, rule(how, '0.5')), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const rep = (reports[how] = JSON.parse(r.stdout) as Report);
      assert.equal(rep.layers.length, 35);
      for (const l of rep.layers) {
        assert.equal(l.method, 'smoothquant');
        assert.equal(l.format, 'packed');
        assert.equal(l.sparsity?.storage, 'bitmap');
        assert.ok(Math.abs(l.sparsity!.pruned - 0.5) < 0.01, `${how} ${l.name}: pruned ${l.sparsity!.pruned}`);
        assert.equal(l.smoothing?.activation_bits, 8, `${l.name}: smoothed with 8-bit activations`);
      }
      // The activations are quantized in the written model (static QDQ before the smoothed layers).
      const onnx = readFileSync(join(dir, `out/sq-${how}.onnx`));
      assert.ok(onnx.includes(Buffer.from('QuantizeLinear')), `${how}: no activation QDQ in the output`);
      assert.ok(Number.isFinite(rep.metrics!.quantized.perplexity!));
    }
    // SparseGPT's OBS update lowers each layer's output error below Wanda's mask-and-round, on the same scales.
    const sum = (r: Report) => r.layers.reduce((s, l) => s + l.rel_error, 0);
    assert.ok(
      sum(reports.sparsegpt!) < sum(reports.wanda!),
      `Σ rel_error sparsegpt ${sum(reports.sparsegpt!)} vs wanda ${sum(reports.wanda!)}`,
    );
    // 2:4: the 64×172 / 172×64 layers keep index codes (their payload saving outweighs the decode nodes).
    const nm = await runCli(['run', recipe(dir, 'sq-24', rule('sparsegpt', '"2:4"'))]);
    assert.equal(nm.code, 0, nm.stderr);
    assert.match(nm.stdout, /^layers\.0\.w1\s+172x64\s+smoothquant\s+8\s+32\s+packed\s+\S+\s+\S+\s+50\.0% \(2:4, index\)$/m);
  });
});
