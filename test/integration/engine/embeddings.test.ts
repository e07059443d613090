import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Report } from '../../../protocol/report';
import { loadModel } from '../../../engine/onnx/model';
import { buildTiedStories, TIED_HEAD_NODE } from '../../fixtures/llm/tiedStories';
import { runCli } from '../cli/cliHarness';
import { skipNoShared, stories } from './sharedFixtures';

const HEAD = `tok_embeddings@${TIED_HEAD_NODE}`;
const IDS = [1, 403, 407, 261, 378, 395, 259, 281, 300, 412, 290, 377];

async function logits(model: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(model);
  const r = await s.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(IDS.map(BigInt)), [1, IDS.length]) });
  await s.release();
  return r.logits.data as Float32Array;
}

describe('embedding tables and a tied LM head (stories260K with tied embeddings)', { skip: skipNoShared }, () => {
  let dir: string;
  let tied: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-emb-'));
    tied = buildTiedStories(dir, stories.model);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const recipe = (name: string, rules: string, model = tied) => {
    const p = join(dir, `${name}.lowbit.yaml`);
    writeFileSync(
      p,
      `version: 1
model: ${model}
output: ./out/${name}.onnx
calibration: { text: ${stories.text}, tokenizer: ${stories.tokenizer}, samples: 8, sequence_length: 128, offset: 10000 }
defaults: { method: gptq, bits: 4, group_size: 32 }
layers:
${rules}
evaluate: { text: ${stories.text}, samples: 4, sequence_length: 128, metrics: [perplexity, kl_divergence, size] }
`,
    );
    return p;
  };
  const run = async (name: string, rules: string, model = tied) => {
    const r = await runCli(['run', recipe(name, rules, model), '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Report;
  };

  test('the tied fixture is model.onnx: same logits; its table is one layer pair, counted once', async () => {
    const [a, b] = [await logits(stories.model), await logits(tied)];
    assert.deepEqual(b, a);
    const m = await loadModel(tied);
    const s = m.summary();
    const table = s.layers.find((l) => l.name === 'tok_embeddings')!,
      head = s.layers.find((l) => l.name === HEAD)!;
    assert.equal(table.op, 'Gather');
    assert.equal(table.embedding, true);
    assert.equal(table.tiedWith, HEAD);
    assert.equal(head.tiedWith, 'tok_embeddings');
    assert.deepEqual(head.shape, [512, 64]);
    assert.equal(s.totalParams, (await loadModel(stories.model)).summary().totalParams - 512 * 64);
  });

  test('head, table or both: the table shrinks the file by its share; both share one stored table; quality cost measured', async () => {
    const none = await run('none', '  - match: "tok_embeddings*"\n    skip: true');
    const head = await run('head', `  - match: "${HEAD}"`);
    const table = await run('table', `  - match: "${HEAD}"\n    skip: true\n  - match: tok_embeddings`);
    const both = await run('both', '  - match: "tok_embeddings*"');
    // Embeddings are opt-in: without a rule the table stays float; the head is a MatMul, quantized by the defaults.
    assert.ok(!none.layers.some((l) => l.name.startsWith('tok_embeddings')));
    assert.deepEqual(
      head.layers.filter((l) => l.name.startsWith('tok_embeddings')).map((l) => l.name),
      [HEAD],
    );
    assert.deepEqual(
      table.layers.filter((l) => l.name.startsWith('tok_embeddings')).map((l) => l.name),
      ['tok_embeddings'],
    );
    const tableFloat = 512 * 64 * 4;
    // Quantizing one side alone still keeps the float table for the other side.
    assert.ok(head.size.quantized_bytes > none.size.quantized_bytes, 'head alone adds a 4-bit copy');
    assert.ok(
      table.size.quantized_bytes > none.size.quantized_bytes,
      `table alone: ${table.size.quantized_bytes} vs ${none.size.quantized_bytes}`,
    );
    // Both sides: the float table is gone and one 4-bit table (5.125 bits/weight) serves both.
    const shrink = none.size.quantized_bytes - both.size.quantized_bytes;
    const expected = tableFloat - (512 * 64 * 5.125) / 8;
    assert.ok(Math.abs(shrink - expected) < 2048, `shrink ${shrink} vs the table's share ${expected}`);
    const out = await loadModel(join(dir, 'out/both.onnx'));
    const gbq = out.graph.node.find((n) => n.opType === 'GatherBlockQuantized')!;
    const nbits = out.graph.node.filter((n) => n.opType === 'MatMulNBits');
    const reshape = out.graph.node.find((n) => n.output[0] === gbq.input[0])!;
    assert.equal(reshape.opType, 'Reshape');
    const headNode = nbits.find((n) => n.input[1] === reshape.input[0]);
    assert.ok(headNode, 'the head MatMulNBits reads the very initializer the Gather reads');
    assert.equal(headNode!.input[2], gbq.input[2], 'and the same scales');
    assert.ok(!out.graph.initializer.some((t) => t.name === 'tok_embeddings'), 'the float table is gone');
    // Report: both sides name each other, the table's params count once.
    const t = both.layers.find((l) => l.name === 'tok_embeddings')!,
      h = both.layers.find((l) => l.name === HEAD)!;
    assert.equal(t.tied_with, HEAD);
    assert.equal(h.tied_with, 'tok_embeddings');
    assert.equal(t.method, 'gptq', "the table takes the head's GPTQ codes");
    assert.equal(both.size.quantized_params, none.size.quantized_params + 512 * 64);
    // Quality: perplexity rises a little, and more with the table quantized too.
    const fp = none.metrics.fp.perplexity!;
    for (const r of [none, head, table, both])
      assert.ok(r.metrics.quantized.perplexity! < fp * 1.2, `${r.metrics.quantized.perplexity} vs FP ${fp}`);
    assert.ok(both.metrics.kl_divergence!.mean > none.metrics.kl_divergence!.mean);
  });

  test('a tied table asked to be two formats is an error naming both; nothing is written', async () => {
    const p = recipe('conflict', `  - match: "tok_embeddings*"\n  - match: "${HEAD}"\n    bits: 8`);
    const r = await runCli(['run', p]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /conflict\.lowbit\.yaml:\d+:\d+: error: `tok_embeddings` and `tok_embeddings@\/lm_head\/MatMul` are one tied table .* \(4-bit, group 32 vs 8-bit, group 32\)/,
    );
    assert.ok(!existsSync(join(dir, 'out/conflict.onnx')));
    const g = await runCli(['run', recipe('gptqtable', '  - match: tok_embeddings\n    method: gptq', stories.model)]);
    assert.equal(g.code, 1);
    assert.match(
      g.stderr,
      /error: `tok_embeddings` is an embedding table \(Gather\): nothing multiplies it with activations, so gptq has no calibration statistics; use method: rtn/,
    );
  });

  test("the plain stories260K table (not tied): 8-bit GatherBlockQuantized, file shrinks by the table's share", async () => {
    const base = await run('plain', '  - match: output\n    bits: 8', stories.model);
    const emb = await run('plain8', '  - match: output\n    bits: 8\n  - match: tok_embeddings\n    bits: 8', stories.model);
    const shrink = base.size.quantized_bytes - emb.size.quantized_bytes;
    const expected = 512 * 64 * 4 - (512 * 64 * 9.25) / 8; // 8-bit codes + an fp32 scale and an 8-bit zero point per 32 = 9.25 bits/weight
    assert.ok(Math.abs(shrink - expected) < 2048, `shrink ${shrink} vs ${expected}`);
    assert.ok(statSync(join(dir, 'out/plain8.onnx')).size < statSync(join(dir, 'out/plain.onnx')).size);
    const l = emb.layers.find((x) => x.name === 'tok_embeddings')!;
    assert.equal(l.op, 'Gather');
    assert.equal(l.bits_per_weight, 9.25);
    assert.ok(Math.abs(emb.metrics.quantized.perplexity! - base.metrics.quantized.perplexity!) / base.metrics.quantized.perplexity! < 0.01);
  });
});
