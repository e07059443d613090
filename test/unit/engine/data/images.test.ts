import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadImage,
  preprocessImage,
  targetSize,
  listImages,
  PADDLE_REC_INPUT,
  resizeImage,
  type RgbaImage,
} from '../../../../engine/data/images';
import { renderTextLine, renderTextPage, encodePng } from '../../../../engine/data/imagesRender';

function solid(w: number, h: number, rgb: [number, number, number]): RgbaImage {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return { width: w, height: h, data };
}

describe('images', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-img-'));
  test('PNG encode → decode is lossless', async () => {
    const img = renderTextLine('Hello 123');
    const back = await loadImage(encodePng(img));
    assert.equal(back.width, img.width);
    assert.deepEqual(back.data, img.data);
  });
  test('rendering is deterministic and draws dark text on white', () => {
    const a = renderTextLine('The quick brown fox', { face: 'DejaVuSerif' });
    const b = renderTextLine('The quick brown fox', { face: 'DejaVuSerif' });
    assert.deepEqual(a.data, b.data);
    assert.equal(a.height, 48);
    assert.ok(a.width > 200);
    let dark = 0;
    for (let i = 0; i < a.data.length; i += 4) if (a.data[i] < 64) dark++;
    assert.ok(dark > 300 && dark < (a.width * a.height) / 2, `dark pixels ${dark}`);
    assert.deepEqual(Array.from(a.data.subarray(0, 4)), [255, 255, 255, 255]); // margin stays white
    const page = renderTextPage(['one line', 'another line']);
    assert.equal(page.height % 32, 0);
  });
  test('paddle rec preprocessing: height 48, aspect kept, (x/255−0.5)/0.5, BGR planes', () => {
    const img = solid(40, 20, [255, 0, 51]);
    const t = preprocessImage(img, PADDLE_REC_INPUT);
    assert.deepEqual(t.dims, [1, 3, 48, 96]);
    const hw = 48 * 96;
    assert.ok(Math.abs(t.data[0] - (51 / 255 - 0.5) / 0.5) < 1e-6); // B plane first
    assert.ok(Math.abs(t.data[hw] - -1) < 1e-6);
    assert.ok(Math.abs(t.data[2 * hw] - 1) < 1e-6);
    assert.deepEqual(targetSize({ width: 1000, height: 48 }, PADDLE_REC_INPUT, 320), { width: 320, height: 48 });
  });
  test('fixed size, NHWC, RGB, ImageNet mean/std', () => {
    const t = preprocessImage(solid(10, 10, [255, 128, 0]), {
      height: 4,
      width: 6,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      layout: 'nhwc',
      channels: 'rgb',
    });
    assert.deepEqual(t.dims, [1, 4, 6, 3]);
    assert.ok(Math.abs(t.data[0] - (1 - 0.485) / 0.229) < 1e-5);
    assert.ok(Math.abs(t.data[1] - (128 / 255 - 0.456) / 0.224) < 1e-5);
    assert.ok(Math.abs(t.data[2] - (0 - 0.406) / 0.225) < 1e-5);
  });
  test('resize keeps a half-black/half-white split in place', () => {
    const img = solid(8, 4, [255, 255, 255]);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) img.data.set([0, 0, 0, 255], (y * 8 + x) * 4);
    const r = resizeImage(img, 16, 8);
    assert.ok(r.data[(4 * 16 + 1) * 4] < 30);
    assert.ok(r.data[(4 * 16 + 14) * 4] > 225);
  });
  test('listImages with a labels file; errors name the file', async () => {
    writeFileSync(join(dir, 'b.png'), encodePng(renderTextLine('bee')));
    writeFileSync(join(dir, 'a.png'), encodePng(renderTextLine('ay')));
    writeFileSync(join(dir, 'labels.tsv'), 'a.png\tay\nb.png\tbee\n');
    assert.deepEqual(
      listImages(dir, join(dir, 'labels.tsv')).map((l) => l.label),
      ['ay', 'bee'],
    );
    assert.deepEqual(
      listImages(join(dir, 'labels.tsv')).map((l) => l.label),
      ['ay', 'bee'],
    );
    writeFileSync(join(dir, 'bad.tsv'), 'a.png ay\n');
    assert.throws(() => listImages(join(dir, 'bad.tsv')), /bad\.tsv:1: expected/);
    writeFileSync(join(dir, 'broken.png'), 'nope');
    await assert.rejects(loadImage(join(dir, 'broken.png')), /broken\.png: cannot decode image/);
  });
});
