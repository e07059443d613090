import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Report } from '../../../protocol/report';
import {
  buildBertEncoder,
  buildModelBuilderDecoder,
  buildOptimumDecoder,
  fullLogits,
  incrementalLogits,
  maxAbsDiff,
  openDecoder,
  type DecoderFixture,
  type DecoderFixtureOptions,
} from '../../fixtures/llm';
import { decodeModel, encodeModel } from '../../../engine/onnx/onnxProto';
import { DT, valueInfo } from '../../fixtures/llm/graphBuilder';
import { skipNoShared, stories } from '../engine/sharedFixtures';
import { runCli } from './cliHarness';

/** Must-hold: the compressed model's perplexity is within 10% of FP. */
const PPL_RATIO = 1.1;
/**
 * Incremental vs full-sequence logits of the same model (fp32: float tolerance; fp16: half precision).
 * The recipe sets `accuracy_level: 0` (fp32 activations): at the default level 4 MatMulNBits quantizes
 * each run's activations to int8, and a 1-token step and a 12-token pass then differ by ~0.03.
 */
const CACHE_TOL = { float32: 1e-4, float16: 2e-2 };
const IDS = [1, 403, 407, 261, 378, 395, 259, 281];

function recipe(dir: string, model: string, name: string): string {
  const path = join(dir, `${name}.lowbit.yaml`);
  writeFileSync(
    path,
    `version: 1
model: ${model}
output: ./out/${name}-w4.onnx
format: matmulnbits
accuracy_level: 0
calibration:
  text: ${stories.text}
  tokenizer: ${stories.tokenizer}
  samples: 16
  sequence_length: 128
defaults: { method: gptq, bits: 4, group_size: 32, symmetric: false }
layers:
  - match: "layers.0.*"
    bits: 8
  - match: "*.{self_attn,attn}.*_proj"
    group_size: 16
evaluate:
  text: ${stories.text}
  samples: 8
  sequence_length: 128
  offset: 4096
  metrics: [perplexity, kl_divergence, size]
`,
  );
  return path;
}

const io = (s: ort.InferenceSession) => ({
  inputs: s.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : '']),
  outputs: s.outputMetadata.map((m) => [m.name, m.isTensor ? m.type : '']),
});

describe('lowbit run on real LLM exports (GPTQ 4-bit g32 through the CLI)', { skip: skipNoShared }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-llm-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, (d: string, o: DecoderFixtureOptions) => DecoderFixture, Partial<DecoderFixtureOptions>][] = [
    ['optimum', buildOptimumDecoder, {}],
    ['model-builder', buildModelBuilderDecoder, {}],
    ['optimum fp16 external data', buildOptimumDecoder, { dtype: 'float16', externalData: true }],
    ['optimum weights behind Transpose', buildOptimumDecoder, { weightsBehindTranspose: true }],
  ];
  for (const [label, build, extra] of cases)
    test(`${label}: perplexity within 10% of FP, same inputs and outputs, KV-cache decoding = full-sequence`, async () => {
      const name = label.replace(/\W+/g, '-');
      const f = build(dir, { storiesModel: stories.model, fileName: `${name}.onnx`, ...extra });
      const r = await runCli(['run', recipe(dir, f.path, name), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as Report;
      const fpPpl = report.metrics.fp.perplexity!,
        qPpl = report.metrics.quantized.perplexity!;
      assert.ok(fpPpl > 1 && fpPpl < 20, `FP perplexity ${fpPpl}`);
      assert.ok(qPpl <= fpPpl * PPL_RATIO, `perplexity ${qPpl} vs FP ${fpPpl}`);
      // readable names, and the globs reached them
      const byName = new Map(report.layers.map((l) => [l.name, l]));
      const qkv =
        label === 'model-builder'
          ? ['layers.0.attn.qkv_proj', 'layers.1.attn.qkv_proj']
          : ['layers.0.self_attn.q_proj', 'layers.1.self_attn.k_proj'];
      assert.equal(byName.get(qkv[0])?.bits, 8, [...byName.keys()].join(', '));
      assert.equal(byName.get(qkv[1])?.bits, 4);
      assert.equal(byName.get(qkv[1])?.group_size, 16);
      assert.equal(byName.get('layers.1.mlp.down_proj')?.group_size, 32);
      assert.ok(byName.has('lm_head'));

      const out = join(dir, 'out', `${name}-w4.onnx`);
      const fp = await openDecoder(f.path),
        q = await openDecoder(out);
      assert.deepEqual(io(q), io(fp));
      const full = await fullLogits(q, f, IDS);
      const inc = await incrementalLogits(q, f, IDS, IDS.length - 3);
      assert.ok(maxAbsDiff(inc, full) <= CACHE_TOL[f.dtype], `3 tokens through the cache vs full-sequence: ${maxAbsDiff(inc, full)}`);
      assert.ok(maxAbsDiff(full, await fullLogits(fp, f, IDS)) > 1e-3, 'the compressed model differs from FP');
      assert.ok(readFileSync(out).length > 0);
    });
});

describe('BERT-style encoder and unbindable inputs through the CLI', { skip: skipNoShared }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-llm-cli2-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('an encoder calibrates from text and is evaluated by output agreement', async () => {
    const f = buildBertEncoder(dir);
    const path = join(dir, 'enc.lowbit.yaml');
    writeFileSync(
      path,
      `version: 1
model: ${f.path}
output: ./out/enc-w4.onnx
calibration: { text: ${stories.text}, tokenizer: ${stories.tokenizer}, samples: 8, sequence_length: 64 }
defaults: { method: gptq, bits: 4, group_size: 32 }
evaluate: { text: ${stories.text}, samples: 4, sequence_length: 64, offset: 4096, metrics: [output_agreement, size] }
`,
    );
    const r = await runCli(['run', path, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    const a = report.metrics.output_agreement!;
    assert.ok(a.cosine > 0.99 && a.cosine < 1, `cosine ${a.cosine}`);
    assert.ok(a.sqnr_db > 15 && Number.isFinite(a.sqnr_db), `SQNR ${a.sqnr_db}`);
    assert.equal(report.layers.length, 12);
    assert.ok(report.layers.every((l) => l.name.startsWith('bert.encoder.layer.')));
    const q = await ort.InferenceSession.create(join(dir, 'out', 'enc-w4.onnx'));
    assert.deepEqual(q.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
  });

  test('an input nothing binds: check and run name it and how to set it; no output is written', async () => {
    const f = buildOptimumDecoder(dir, { storiesModel: stories.model, fileName: 'extra.onnx' });
    const proto = decodeModel(new Uint8Array(readFileSync(f.path)), f.path);
    proto.graph!.input.push(valueInfo('temperature', DT.FLOAT, [1]));
    writeFileSync(f.path, encodeModel(proto));
    const path = join(dir, 'extra.lowbit.yaml');
    const body = (inputs: string) => `version: 1
model: ${f.path}
output: ./out/extra-w4.onnx
calibration: { text: ${stories.text}, tokenizer: ${stories.tokenizer}, samples: 2, sequence_length: 32 }
defaults: { method: rtn, bits: 4, group_size: 32 }
${inputs}evaluate: { text: ${stories.text}, samples: 1, sequence_length: 32, metrics: [perplexity] }
`;
    writeFileSync(path, body(''));
    const check = await runCli(['check', path]);
    assert.equal(check.code, 1);
    assert.match(check.stdout + check.stderr, /cannot bind model input 'temperature' \(float32 \[1\]\).*inputs: \{ temperature: 0 \}/);
    const run = await runCli(['run', path]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /temperature/);
    assert.ok(!existsSync(join(dir, 'out', 'extra-w4.onnx')), 'no output after a refused run');

    writeFileSync(path, body('inputs:\n  temprature: 0.5\n  attention_mask: ones\n'));
    const typo = await runCli(['check', path]);
    assert.equal(typo.code, 1);
    assert.match(
      typo.stdout + typo.stderr,
      /extra\.lowbit\.yaml:8:19: error: `inputs\.attention_mask` must be a number or one of token_ids, attention_mask/,
    );
    assert.match(
      typo.stdout + typo.stderr,
      /extra\.lowbit\.yaml:7:3: error: `temprature` is not an input of the model .*Did you mean `temperature`\?/,
    );

    writeFileSync(path, body('inputs:\n  temperature: 0.5\n'));
    const ok = await runCli(['run', path, '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const s = await ort.InferenceSession.create(join(dir, 'out', 'extra-w4.onnx'));
    assert.ok(s.inputNames.includes('temperature'));
  });
});
