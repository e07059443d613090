import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Decoder, greedy, presentCandidates } from '../../../../engine/evaluate/decoder';
import { firstDivergence } from '../../../../engine/evaluate/decoding';
import { buildModelBuilderDecoder, buildOptimumDecoder, fullLogits, maxAbsDiff, openDecoder } from '../../../fixtures/llm';
import { DT, GraphBuilder, writeModel } from '../../../fixtures/llm/graphBuilder';
import { skipNoShared, stories } from '../sharedFixtures';

/** BOS + "Once upon a time, there was a little girl". */
const IDS = [1, 403, 407, 261, 378, 395, 259, 281, 300, 412, 290, 377];

describe('Decoder: token-by-token decoding through the KV cache', { skip: skipNoShared }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-decoder-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the bare stories260K graph decodes full-sequence; its greedy text is the reference for the cached decoders', async () => {
    const s = await ort.InferenceSession.create(stories.model);
    const d = new Decoder(s, stories.model);
    assert.equal(d.mode, 'full_sequence');
    // Every step's logits are the last row of a plain full-sequence run over the same tokens.
    const full = (await s.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(IDS.map(BigInt)), [1, IDS.length]) })).logits
      .data as Float32Array;
    const vocab = full.length / IDS.length;
    let row = await d.prefill(IDS.slice(0, 6));
    for (let t = 6; t <= IDS.length; t++) {
      assert.ok(maxAbsDiff(row, full.subarray((t - 1) * vocab, t * vocab)) === 0, `position ${t - 1}`);
      if (t < IDS.length) row = await d.step(IDS[t]);
    }
    await s.release();
  });

  for (const [style, build] of [
    ['optimum', buildOptimumDecoder],
    ['model-builder', buildModelBuilderDecoder],
  ] as const)
    for (const dtype of ['float32', 'float16'] as const)
      test(`${style} ${dtype}: per-step logits through the cache equal full-sequence logits; greedy text equals model.onnx's`, async () => {
        const f = build(dir, { storiesModel: stories.model, dtype, fileName: `${style}-${dtype}.onnx` });
        const s = await openDecoder(f.path);
        const d = new Decoder(s, f.path);
        assert.equal(d.mode, 'kv_cache');
        const full = await fullLogits(s, f, IDS);
        const vocab = full.length / IDS.length;
        const tol = dtype === 'float32' ? 1e-4 : 0.1;
        let row = await d.prefill(IDS.slice(0, 4));
        for (let t = 4; t <= IDS.length; t++) {
          const diff = maxAbsDiff(row, full.subarray((t - 1) * vocab, t * vocab));
          assert.ok(diff <= tol, `position ${t - 1}: ${diff}`);
          if (t < IDS.length) row = await d.step(IDS[t]);
        }
        const ref = await ort.InferenceSession.create(stories.model);
        const want = await greedy(new Decoder(ref, stories.model), IDS.slice(0, 5), 20);
        const got = await greedy(d, IDS.slice(0, 5), 20);
        if (dtype === 'float32') assert.deepEqual(got, want);
        else assert.ok((firstDivergence(got, want) ?? 20) >= 5, `fp16 diverges at ${firstDivergence(got, want)}: ${got} vs ${want}`);
        await ref.release();
        await s.release();
      });

  test('an input no rule binds is an error naming it; a cache input without a present output is an error naming it', async () => {
    const b = new GraphBuilder(DT.FLOAT);
    const ids = b.input('input_ids', DT.INT64, [1, 'seq']);
    b.input('pixel_mask', DT.FLOAT, [1, 'seq']);
    b.opTo('Cast', 'cast', [ids], ['logits'], { to: DT.FLOAT });
    b.output('logits', DT.FLOAT, [1, 'seq']);
    const p1 = join(dir, 'unbindable.onnx');
    writeModel(b.model(), p1);
    const s1 = await ort.InferenceSession.create(p1);
    assert.throws(
      () => new Decoder(s1, p1),
      (e: Error) => e.message.includes(p1) && /cannot bind model input 'pixel_mask'.*set it in the recipe/.test(e.message),
    );
    await s1.release();

    const c = new GraphBuilder(DT.FLOAT);
    const ids2 = c.input('input_ids', DT.INT64, [1, 'seq']);
    const past = c.input('past_key_values.0.key', DT.FLOAT, ['batch', 2, 'past_sequence_length', 4]);
    c.opTo('Cast', 'cast', [ids2], ['logits'], { to: DT.FLOAT });
    c.opTo('Identity', 'id', [past], ['kept_cache']);
    c.output('logits', DT.FLOAT, [1, 'seq']);
    c.output('kept_cache', DT.FLOAT, ['batch', 2, 'past_sequence_length', 4]);
    const p2 = join(dir, 'nocache.onnx');
    writeModel(c.model(), p2);
    const s2 = await ort.InferenceSession.create(p2);
    assert.throws(
      () => new Decoder(s2, p2),
      /cache input 'past_key_values\.0\.key' has no matching output \(looked for 'present\.0\.key', 'present_key_values\.0\.key'\); the cache cannot be carried/,
    );
    await s2.release();
  });
});

test('presentCandidates maps past names to present names; firstDivergence finds the first differing token', () => {
  assert.deepEqual(presentCandidates('past_key_values.3.value'), ['present.3.value', 'present_key_values.3.value']);
  assert.deepEqual(firstDivergence([1, 2, 3], [1, 2, 3]), null);
  assert.deepEqual(firstDivergence([1, 2, 3], [1, 5, 3]), 1);
  assert.deepEqual(firstDivergence([1, 2], [1, 2, 3]), 2);
});
