import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { editDistance, characterErrorRate } from '../../../../engine/tasks/cer';
import { outputAgreement, AgreementAccumulator, argmax } from '../../../../engine/tasks/agreement';
import { topK, topKAccuracy } from '../../../../engine/tasks/classify';
import { ctcGreedyDecode, ctcGreedyDecodeBatch, loadCharset, paddleOcrAsset } from '../../../../engine/tasks/ctc';

describe('CER', () => {
  test('edit distance basics, over code points', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('abc', 'abc'), 0);
    assert.equal(editDistance('中文识别', '中文认别'), 1);
    assert.equal(editDistance('😀a', 'a'), 1);
  });
  test('corpus CER sums errors over reference characters', () => {
    assert.equal(characterErrorRate(['abc', 'xy'], ['abd', 'xyz']), 2 / 6);
    assert.equal(characterErrorRate(['a'], ['a']), 0);
    assert.throws(() => characterErrorRate(['a'], []), /1 hypotheses for 0 references/);
  });
});

describe('output agreement', () => {
  test('identical → cosine 1, SQNR ∞, argmax 1', () => {
    const a = new Float32Array([1, 2, 3, 4]);
    const r = outputAgreement(a, a.slice(), 2);
    assert.equal(r.cosine, 1);
    assert.equal(r.sqnrDb, Infinity);
    assert.equal(r.argmaxAgreement, 1);
  });
  test('known noise → SQNR in dB, cosine, argmax flips', () => {
    const ref = new Float32Array([3, 4, 0, 0]);
    const test_ = new Float32Array([3, 4, 0, 0.5]); // noise² 0.25, signal² 25 → 20 dB
    const r = outputAgreement(ref, test_, 2);
    assert.ok(Math.abs(r.sqnrDb - 20) < 1e-9);
    assert.ok(Math.abs(r.cosine - 25 / (5 * Math.sqrt(25.25))) < 1e-12);
    assert.equal(r.argmaxAgreement, 0.5); // row [3,4] agrees; row [0,0] vs [0,0.5] flips 0 → 1
    assert.ok(Math.abs(r.relativeError - 0.1) < 1e-9);
  });
  test('accumulates across samples and checks shapes', () => {
    const acc = new AgreementAccumulator();
    acc.add(new Float32Array([1, 0]), new Float32Array([0, 1]), 2).add(new Float32Array([0, 1]), new Float32Array([0, 1]), 2);
    const r = acc.result();
    assert.equal(r.argmaxAgreement, 0.5);
    assert.ok(Math.abs(r.cosine - 0.5) < 1e-12);
    assert.throws(() => acc.add(new Float32Array(2), new Float32Array(3)), /lengths differ/);
    assert.equal(argmax([1, 5, 5, 2]), 1);
  });
});

describe('classification', () => {
  test('top-1/top-5 accuracy', () => {
    const logits = new Float32Array([
      0.1,
      0.9,
      0.0,
      0.2,
      0.3,
      0.4, // label 1 → top1 hit
      0.9,
      0.1,
      0.0,
      0.2,
      0.3,
      0.4, // label 5 → top5 hit only
      0.9,
      0.8,
      0.7,
      0.6,
      0.5,
      0.0, // label 5 → miss (rank 6)
    ]);
    const acc = topKAccuracy(logits, 6, [1, 5, 5]);
    assert.equal(acc[1], 1 / 3);
    assert.equal(acc[5], 2 / 3);
    assert.deepEqual(topK([0.1, 0.9, 0.5], 2), [1, 2]);
    assert.throws(() => topKAccuracy(logits, 6, [1]), /not 1 rows of 6/);
  });
});

describe('CTC greedy decoding', () => {
  const charset = { chars: ['a', 'b', ' '] }; // classes: 0 blank, 1 a, 2 b, 3 space
  const oneHot = (seq: number[]) => {
    const p = new Float32Array(seq.length * 4);
    seq.forEach((c, t) => {
      p[t * 4 + c] = 0.9;
    });
    return p;
  };
  test('merges repeats, drops blanks, keeps repeats split by a blank', () => {
    assert.equal(ctcGreedyDecode(oneHot([1, 1, 0, 1, 2, 2, 3, 0, 2]), 9, 4, charset).text, 'aab b');
    assert.equal(ctcGreedyDecode(oneHot([0, 0]), 2, 4, charset).text, '');
    assert.deepEqual(ctcGreedyDecodeBatch(oneHot([1, 0, 2, 2]), [2, 2, 4], charset), ['a', 'b']);
  });
  test('class count must match the dictionary', () => {
    assert.throws(() => ctcGreedyDecode(new Float32Array(5), 1, 5, charset), /5 classes but the dictionary gives 3/);
  });
  test('PaddleOCR dictionary + space = 6624 characters (6625 classes with blank)', () => {
    const cs = loadCharset(paddleOcrAsset('ppocr_keys_v1.txt'));
    assert.equal(cs.chars.length + 1, 6625);
    assert.equal(cs.chars[cs.chars.length - 1], ' ');
    assert.ok(cs.chars.includes('A') && cs.chars.includes('中'));
  });
});
