import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgreementMeter, PerplexityMeter, argmax, klDivergence, logSoftmax, percentile } from '../../../../engine/evaluate/tokenMetrics';

describe('tokenMetrics', () => {
  test('logSoftmax normalizes and is shift invariant', () => {
    const a = new Float64Array(3),
      b = new Float64Array(3);
    logSoftmax([1, 2, 3], 0, 3, a);
    logSoftmax([0, 0, 101, 102, 103], 2, 3, b);
    assert.ok(Math.abs(a.reduce((s, v) => s + Math.exp(v), 0) - 1) < 1e-12);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-12);
    assert.ok(Math.abs(a[2] - (3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)))) < 1e-12);
  });
  test('KL is zero for identical rows and matches the closed form', () => {
    const p = new Float64Array([Math.log(0.5), Math.log(0.5)]);
    const q = new Float64Array([Math.log(0.9), Math.log(0.1)]);
    assert.equal(klDivergence(p, p), 0);
    const want = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1);
    assert.ok(Math.abs(klDivergence(p, q) - want) < 1e-12);
  });
  test('perplexity of a uniform model is the vocabulary size', () => {
    const m = new PerplexityMeter();
    const row = new Float64Array(4).fill(Math.log(0.25));
    for (let t = 0; t < 10; t++) m.add(row, t % 4);
    assert.ok(Math.abs(m.perplexity - 4) < 1e-12);
    assert.equal(m.tokens, 10);
  });
  test('argmax, percentile and agreement', () => {
    assert.equal(argmax([0, 5, 5, 1], 0, 4), 1);
    assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
    assert.equal(percentile([0, 10], 99), 9.9);
    const a = new AgreementMeter();
    const p = new Float64Array([Math.log(0.5), Math.log(0.5)]);
    a.add(p, p, 0, 0);
    a.add(p, p, 0, 1);
    assert.equal(a.top1Agreement, 0.5);
    assert.deepEqual(a.klSummary(), { mean: 0, p50: 0, p99: 0, max: 0 });
  });
});
