import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Report } from '../../../protocol/report';
import { loadModel } from '../../../engine/onnx/model';
import { loadTokenizer } from '../../../engine/data/tokenizer';
import { skipNoShared, stories } from '../engine/sharedFixtures';
import { runCli } from './cliHarness';
import { buildOptimumDecoder, fullLogits, openDecoder } from '../../fixtures/llm';

const PROMPT = 'Once upon a time';
const TOKENS = 12;

function recipe(dir: string, name: string, extra: string, model = stories.model): string {
  const path = join(dir, `${name}.lowbit.yaml`);
  writeFileSync(
    path,
    `version: 1
model: ${model}
output: ./out/${name}.onnx
${extra}
calibration: { text: ${stories.text}, tokenizer: ${stories.tokenizer}, samples: 4, sequence_length: 128, offset: 10000 }
defaults: { method: rtn, bits: 4, group_size: 32 }
evaluate:
  text: ${stories.text}
  samples: 2
  sequence_length: 128
  metrics: [perplexity, latency]
  generate: { prompt: ${JSON.stringify(PROMPT)}, tokens: ${TOKENS} }
`,
  );
  return path;
}

/** Greedy continuation by plain full-sequence argmax over `model` (no Lowbit code on the model side). */
async function referenceGreedy(model: string, prompt: number[], n: number): Promise<number[]> {
  const s = await ort.InferenceSession.create(model);
  const ids = [...prompt],
    out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await s.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) });
    const l = r.logits.data as Float32Array,
      V = l.length / ids.length,
      row = l.subarray((ids.length - 1) * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
    ids.push(best);
    out.push(best);
  }
  await s.release();
  return out;
}

describe('lowbit run: accuracy_level, prefill/decode latency and generation (real process)', { skip: skipNoShared }, () => {
  test('default accuracy_level 4 is written on every MatMulNBits and reported; both generated texts match a plain greedy reference', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-gen-'));
    const r = await runCli(['run', recipe(dir, 'w4', 'format: matmulnbits')]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(join(dir, 'out/w4.report.json'), 'utf8')) as Report;
    assert.equal(report.accuracy_level, 4);
    const out = await loadModel(join(dir, 'out/w4.onnx'));
    const nbits = out.graph.node.filter((n) => n.opType === 'MatMulNBits');
    assert.equal(nbits.length, 36);
    for (const n of nbits) assert.equal(n.attribute.find((a) => a.name === 'accuracy_level')?.i, 4, n.name);

    const g = report.metrics.generation!;
    const tok = await loadTokenizer(stories.tokenizer);
    const prompt = tok.encode(PROMPT);
    assert.equal(g.prompt_tokens, prompt.length);
    assert.equal(g.mode, 'full_sequence');
    assert.deepEqual(g.fp.ids, await referenceGreedy(stories.model, prompt, TOKENS));
    assert.deepEqual(g.quantized.ids, await referenceGreedy(join(dir, 'out/w4.onnx'), prompt, TOKENS));
    assert.equal(g.fp.text, tok.decode(g.fp.ids));
    assert.equal(g.quantized.text, tok.decode(g.quantized.ids));
    const div = g.fp.ids.findIndex((id, i) => id !== g.quantized.ids[i]);
    assert.equal(g.first_divergence, div < 0 ? null : div);
    // The CLI prints both texts side by side and the prefill / decode rows.
    assert.ok(r.stdout.includes(`fp         ${JSON.stringify(g.fp.text)}`), r.stdout);
    assert.ok(r.stdout.includes(`quantized  ${JSON.stringify(g.quantized.text)}`), r.stdout);
    assert.match(r.stdout, /first divergence: (never \(identical\)|token \d+)/);
    const d = report.metrics.decode_latency!;
    assert.equal(d.mode, 'full_sequence');
    assert.equal(d.prompt_tokens, prompt.length);
    assert.equal(d.decode_tokens, TOKENS);
    for (const v of [d.fp.prefill_ms, d.fp.decode_ms_per_token, d.quantized.prefill_ms, d.quantized.decode_ms_per_token])
      assert.ok(v > 0 && v < 10_000, String(v));
    assert.match(r.stdout, new RegExp(`^prefill ${prompt.length} tokens \\(ms\\)\\s+\\S+\\s+\\S+$`, 'm'));
    assert.match(r.stdout, /^decode ms\/token \(full sequence\)\s+\S+\s+\S+$/m);
    assert.match(r.stdout, /^MatMulNBits activations \(level\)\s+-\s+int8 \(4\)$/m);
  });

  test('accuracy_level: 0 writes no attribute (exact fp32 activations); same codes, so the level-4 perplexity is close but not identical', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-gen-'));
    const [a, b] = [
      await runCli(['run', recipe(dir, 'l0', 'accuracy_level: 0'), '--json']),
      await runCli(['run', recipe(dir, 'l4', 'accuracy_level: 4'), '--json']),
    ];
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const r0 = JSON.parse(a.stdout) as Report,
      r4 = JSON.parse(b.stdout) as Report;
    assert.equal(r0.accuracy_level, 0);
    const out = await loadModel(join(dir, 'out/l0.onnx'));
    assert.ok(out.graph.node.filter((n) => n.opType === 'MatMulNBits').every((n) => !n.attribute.some((x) => x.name === 'accuracy_level')));
    const p0 = r0.metrics.quantized.perplexity!,
      p4 = r4.metrics.quantized.perplexity!;
    assert.notEqual(p0, p4, 'level 4 runs int8 activations: the evaluation must see it');
    assert.ok(Math.abs(p4 - p0) / p0 < 0.02, `${p0} vs ${p4}`);
    assert.equal(r0.metrics.fp.perplexity, r4.metrics.fp.perplexity);
    const bad = join(dir, 'bad.lowbit.yaml');
    writeFileSync(bad, readFileSync(recipe(dir, 'x', 'accuracy_level: 5'), 'utf8'));
    const e = await runCli(['run', bad]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /bad\.lowbit\.yaml:4:17: error: `accuracy_level` must be one of 0, 1, 2, 3, 4 \(got 5\)/);
  });

  test('an optimum-style KV-cache decoder generates and is timed through its cache; both texts match full-sequence greedy references', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-gen-'));
    const f = buildOptimumDecoder(dir, { storiesModel: stories.model });
    const r = await runCli(['run', recipe(dir, 'kv', '', f.path), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    const g = report.metrics.generation!,
      d = report.metrics.decode_latency!;
    assert.equal(g.mode, 'kv_cache');
    assert.equal(d.mode, 'kv_cache');
    const prompt = (await loadTokenizer(stories.tokenizer)).encode(PROMPT);
    // The fixture holds stories260K's weights: its cached greedy text is model.onnx's full-sequence one.
    assert.deepEqual(g.fp.ids, await referenceGreedy(stories.model, prompt, TOKENS));
    // The compressed decoder's cached generation equals its own full-sequence greedy decoding.
    const q = await openDecoder(join(dir, 'out/kv.onnx'));
    const ids = [...prompt];
    for (let i = 0; i < TOKENS; i++) {
      const l = await fullLogits(q, f, ids),
        V = l.length / ids.length,
        row = l.subarray((ids.length - 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
      ids.push(best);
    }
    await q.release();
    assert.deepEqual(g.quantized.ids, ids.slice(prompt.length));
  });
});
