import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { imageCalibrationFeeds, tensorCalibrationFeeds, visionCalibrationFeeds } from '../../../../engine/data/imagesFeeds';
import { renderTextLine, encodePng } from '../../../../engine/data/imagesRender';
import { PADDLE_REC_INPUT } from '../../../../engine/data/images';
import { encodeNpy } from '../../../../engine/data/npy';
import { writeZip } from '../../../../engine/data/npyArchive';
import { paddleOcrAsset } from '../../../../engine/tasks/ctc';

describe('feeds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-feeds-'));
  test('image feeds run in the real PP-OCRv4 recognizer', async () => {
    const imgs = join(dir, 'imgs');
    mkdirSync(imgs);
    ['short', 'a much longer line of text that gets capped'].forEach((t, i) =>
      writeFileSync(join(imgs, `${i}.png`), encodePng(renderTextLine(t))),
    );
    const summary = { path: 'rec.onnx', inputs: [{ name: 'x', dtype: 'float32', dims: ['N', 3, 48, 'W'] as (number | string)[] }] };
    const f = await imageCalibrationFeeds({ path: imgs, samples: 5, image: PADDLE_REC_INPUT }, summary);
    assert.equal(f.samples, 2);
    assert.match(f.warnings[0], /holds only 2 images \(asked for 5\)/);
    assert.equal(f.batches[0].x.dims[2], 48);
    assert.equal(f.batches[1].x.dims[3], 320);
    const session = await ort.InferenceSession.create(paddleOcrAsset('ch_PP-OCRv4_rec_infer.onnx'), { intraOpNumThreads: 2 });
    try {
      const out = await session.run(f.batches[0]);
      assert.equal(out[session.outputNames[0]].dims[2], 6625);
    } finally {
      await session.release();
    }
    await assert.rejects(
      imageCalibrationFeeds({ path: imgs, samples: 1, image: { ...PADDLE_REC_INPUT, height: 32 } }, summary),
      /does not fit input dims/,
    );
  });
  test('tensor feeds: by name from .npz, lone array for a single input, batching, dtype conversion', async () => {
    const ids = encodeNpy({ dtype: 'i4', shape: [10, 3], data: Int32Array.from({ length: 30 }, (_, i) => i) });
    const p = join(dir, 't.npz');
    writeFileSync(p, writeZip(new Map([['input_ids.npy', ids]]), true));
    const summary = { path: 'm.onnx', inputs: [{ name: 'input_ids', dtype: 'int64', dims: ['b', 's'] as (number | string)[] }] };
    const f = tensorCalibrationFeeds({ path: p, samples: 9 }, summary, 4);
    assert.equal((await visionCalibrationFeeds({ kind: 'tensors', path: p, samples: 9, mode: 'parallel' }, summary))!.batches.length, 2);
    assert.equal(await visionCalibrationFeeds({ kind: 'random', samples: 1, seed: 0, mode: 'parallel' }, summary), undefined);
    assert.deepEqual(
      f.batches.map((b) => b.input_ids.dims[0]),
      [4, 4, 1],
    );
    assert.equal(f.batches[2].input_ids.type, 'int64');
    assert.equal((f.batches[2].input_ids.data as BigInt64Array)[0], 24n);
    const two = {
      path: 'm.onnx',
      inputs: [
        { name: 'a', dtype: 'float32', dims: [] },
        { name: 'b', dtype: 'float32', dims: [] },
      ],
    };
    assert.throws(() => tensorCalibrationFeeds({ path: p, samples: 1 }, two), /no array named "a"/);
    const fl = join(dir, 'x.npy');
    writeFileSync(fl, encodeNpy({ dtype: 'f4', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }));
    assert.throws(() => tensorCalibrationFeeds({ path: fl, samples: 2 }, summary), /float data for an int64 input/);
  });
});
