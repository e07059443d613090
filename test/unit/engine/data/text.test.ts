import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../../../engine/data/tokenizer';
import { resolveTextOffsets, textWindows, tokenStream } from '../../../../engine/data/text';
import { skipNoShared, stories } from '../../../integration/engine/sharedFixtures';

describe('text data', { skip: skipNoShared }, () => {
  test('tokenizer gives the llama2.c ids for a known sentence', async () => {
    const tok = await loadTokenizer(stories.tokenizer);
    assert.deepEqual(
      tok.encode('Once upon a time, there was a little girl.'),
      [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 426],
    );
    assert.deepEqual(tok.encode('Once upon a time', false), [403, 407, 261, 378]);
    assert.equal(tok.vocabSize, 512);
  });
  test('stream = one encode per line with BOS; windows are consecutive slices of it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-text-'));
    const file = join(dir, 'a.txt');
    writeFileSync(file, 'Once upon a time\n\nthere was a cat\n');
    const tok = await loadTokenizer(stories.tokenizer);
    const stream = await tokenStream(file, stories.tokenizer);
    assert.deepEqual(stream, [...tok.encode('Once upon a time'), ...tok.encode('there was a cat')]);
    const w = await textWindows({ textPath: file, tokenizerPath: stories.tokenizer, samples: 5, sequenceLength: 3, offset: 1 });
    assert.equal(w.count, Math.floor((stream.length - 1) / 3));
    assert.deepEqual([...w.ids].map(Number), stream.slice(1, 1 + w.count * 3));
  });
  test('windows are deterministic and errors name the file', async () => {
    const a = await textWindows({ textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 4, sequenceLength: 64 });
    const b = await textWindows({ textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 4, sequenceLength: 64 });
    assert.deepEqual(a.ids, b.ids);
    assert.equal(a.count, 4);
    await assert.rejects(
      textWindows({ textPath: '/nonexistent/x.txt', tokenizerPath: stories.tokenizer, samples: 1, sequenceLength: 8 }),
      /\/nonexistent\/x\.txt/,
    );
    await assert.rejects(
      textWindows({ textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 1, sequenceLength: 8, offset: 1e9 }),
      /no 8-token window fits/,
    );
  });
  test('calibration defaults to the end of the file when it shares the evaluation text', async () => {
    const calib = { textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 8, sequenceLength: 128 };
    const ev = { textPath: stories.text, tokenizerPath: stories.tokenizer, samples: 8, sequenceLength: 128 };
    const r = await resolveTextOffsets(calib, ev);
    const n = (await tokenStream(stories.text, stories.tokenizer)).length;
    assert.equal(r.evaluationOffset, 0);
    assert.equal(r.calibrationOffset, n - 1024);
    assert.equal(r.warning, undefined);
    const overlap = await resolveTextOffsets({ ...calib, offset: 0 }, ev);
    assert.match(overlap.warning ?? '', /overlap/);
  });
});
