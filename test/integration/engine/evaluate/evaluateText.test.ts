import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { textWindows } from '../../../../engine/data/text';
import { evaluateText } from '../../../../engine/evaluate/evaluateText';
import { skipNoShared, stories } from '../sharedFixtures';

describe('evaluateText on stories260K', { skip: skipNoShared }, () => {
  test('reproduces the reference perplexity (6.35 on the first 16×256 tokens) and self-KL is 0', async () => {
    const windows = await textWindows({ textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 16, sequenceLength: 256 });
    const r = await evaluateText({ fpModel: stories.model, quantizedModel: stories.model, windows, threads: 1 });
    assert.equal(r.tokens, 16 * 255);
    assert.ok(Math.abs(r.fp.perplexity - 6.35) / 6.35 < 0.01, `perplexity ${r.fp.perplexity}`);
    assert.equal(r.quantized?.perplexity, r.fp.perplexity);
    assert.equal(r.kl_divergence?.max, 0);
    assert.equal(r.top1_agreement, 1);
    assert.ok(r.fp.latency_ms > 0);
  });
  test('cancellation stops between batches', async () => {
    const windows = await textWindows({ textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 4, sequenceLength: 64 });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(evaluateText({ fpModel: stories.model, windows, signal: ac.signal }), { name: 'AbortError' });
  });
  test('a missing model is a clear error naming the file', async () => {
    const windows = await textWindows({ textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 1, sequenceLength: 16 });
    await assert.rejects(evaluateText({ fpModel: '/nonexistent/m.onnx', windows }), /\/nonexistent\/m\.onnx/);
  });
});
