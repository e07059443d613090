/**
 * Hostile data inputs (issue 17, items 11–12): each is a clear error naming the file (and line,
 * byte, layer or token) before any output is written, and the inputs stay byte-identical.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJob } from '../../../engine/job';
import { loadModel } from '../../../engine/onnx/model';
import { encodeModel } from '../../../engine/onnx/onnxProto';
import { layerPlans, storiesPlan } from '../engine/planFixture';
import { skipNoShared, stories } from '../engine/sharedFixtures';

const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'lowbit-hostile-data-'));
  dirs.push(d);
  return d;
};
const textPlan = (over: { text?: string; tokenizer?: string; model?: string }) => {
  const p = storiesPlan({ layers: layerPlans('rtn', 4, 32, ['output']) });
  return {
    ...p,
    modelPath: over.model ?? p.modelPath,
    calibration: {
      kind: 'text' as const,
      textPath: over.text ?? stories.text,
      tokenizerPath: over.tokenizer ?? stories.tokenizer,
      samples: 2,
      sequenceLength: 32,
      mode: 'parallel' as const,
    },
    evaluation: { kind: 'none' as const, metrics: ['size' as const] },
  };
};
const tokenizerJson = () =>
  JSON.parse(readFileSync(stories.tokenizer, 'utf8')) as { model: { type: string; vocab: Record<string, number> } };

describe('hostile data inputs', { skip: skipNoShared }, () => {
  test('text that is not UTF-8: an error naming the file, line and byte (no replacement characters)', async () => {
    const d = tmp();
    const text = join(d, 'latin1.txt');
    writeFileSync(
      text,
      Buffer.concat([Buffer.from('Once upon a time.\nThe caf'), Buffer.from([0xe9]), Buffer.from(' was open.\n'.repeat(200))]),
    );
    const plan = textPlan({ text });
    await assert.rejects(runJob(plan), /latin1\.txt: not UTF-8 text \(invalid byte 0xe9 at byte 25, line 2\)/);
    assert.equal(existsSync(plan.outputPath), false);
  });
  test('a tokenizer file holding null names the file', async () => {
    const d = tmp();
    writeFileSync(join(d, 'tok.json'), 'null');
    await assert.rejects(runJob(textPlan({ tokenizer: join(d, 'tok.json') })), /tok\.json: not a tokenizer\.json \(the file holds null/);
  });
  test('a tokenizer of an unknown type, or with an empty vocabulary, is refused naming the file', async () => {
    const d = tmp();
    const magic = tokenizerJson();
    magic.model.type = 'Magic';
    writeFileSync(join(d, 'magic.json'), JSON.stringify(magic));
    await assert.rejects(runJob(textPlan({ tokenizer: join(d, 'magic.json') })), /magic\.json: unknown tokenizer model type "Magic"/);
    const empty = { model: { type: 'WordLevel', vocab: {}, unk_token: '[UNK]' } };
    writeFileSync(join(d, 'empty.json'), JSON.stringify(empty));
    await assert.rejects(
      runJob(textPlan({ tokenizer: join(d, 'empty.json') })),
      /empty\.json: (the tokenizer's vocabulary is empty|cannot build tokenizer)/,
    );
  });
  test("token ids beyond the model's vocabulary: an error naming the tokenizer, the token and the model", async () => {
    const d = tmp();
    const big = tokenizerJson();
    big.model.vocab['▁upon'] = 700; // an id the 512-entry model has no row for
    writeFileSync(join(d, 'big.json'), JSON.stringify(big));
    await assert.rejects(
      runJob(textPlan({ tokenizer: join(d, 'big.json') })),
      /big\.json: token id 700 \(token \d+ of .*\) is beyond the vocabulary of .*model\.onnx \(512 entries\)/,
    );
  });
  test('a NaN in a hidden (not quantized) weight: calibration names the layer and its input', async () => {
    const d = tmp();
    const m = await loadModel(stories.model);
    const norm = m.graph.initializer.find((t) => /layers\.1\.attention_norm/.test(t.name))!;
    assert.ok(norm?.rawData, 'attention norm weight found');
    const raw = new Float32Array(norm.rawData!.slice().buffer);
    raw[3] = Number.NaN;
    norm.rawData = new Uint8Array(raw.buffer);
    const model = join(d, 'nan.onnx');
    writeFileSync(model, encodeModel(m.proto));
    const before = readFileSync(model);
    const plan = { ...textPlan({ model }), layers: layerPlans('rtn', 4, 32, ['layers.1.wq']) };
    await assert.rejects(runJob(plan), /calibration: input .* of layer layers\.1\.wq holds NaN at element \d+ of batch 1/);
    assert.deepEqual(readFileSync(model), before);
  });
});
