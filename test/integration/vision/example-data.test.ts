// The committed example data (examples/ocr) is exactly what examples/ocr/generate.ts renders on this
// machine, and the labels file lists every evaluation image — so a fresh checkout can regenerate it.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CALIB_LINES, EVAL_LINES } from '../../../examples/ocr/generate';
import { renderTextLine, DEJAVU_FACES } from '../../../engine/data/imagesRender';
import { loadImage, listImages } from '../../../engine/data/images';

const dir = resolve(__dirname, '../../../examples/ocr');

describe('examples/ocr data', () => {
  test('labels.tsv matches the eval images and generate.ts lines', () => {
    const set = listImages(join(dir, 'eval'), join(dir, 'eval/labels.tsv'));
    assert.deepEqual(
      set.map((s) => s.label),
      EVAL_LINES,
    );
    assert.equal(listImages(join(dir, 'calib')).length, CALIB_LINES.length);
  });
  test('committed PNGs equal a fresh rendering (pixel for pixel)', async () => {
    for (const [sub, lines, shift] of [
      ['calib', CALIB_LINES, 0],
      ['eval', EVAL_LINES, 1],
    ] as const) {
      for (let i = 0; i < lines.length; i += 5) {
        const file = join(dir, sub, `line${String(i).padStart(2, '0')}.png`);
        const committed = await loadImage(readFileSync(file), file);
        const fresh = renderTextLine(lines[i], { face: DEJAVU_FACES[(i + shift) % DEJAVU_FACES.length] });
        assert.equal(committed.width, fresh.width, file);
        let diff = 0;
        for (let k = 0; k < fresh.data.length; k++) diff = Math.max(diff, Math.abs(fresh.data[k] - committed.data[k]));
        assert.ok(diff <= 2, `${file}: differs from a fresh rendering by up to ${diff}/255`);
      }
    }
  });
});
