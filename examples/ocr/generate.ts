/**
 * Regenerates the OCR example data (rendered English text lines, DejaVu fonts, deterministic):
 *   calib/  — unlabelled lines for calibration
 *   eval/   — labelled lines + labels.tsv ("file<TAB>text") for CER
 * Run: node --import tsx examples/ocr/generate.ts
 */
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { renderTextLine, encodePng, DEJAVU_FACES } from '../../engine/data/imagesRender';

export const CALIB_LINES = [
  'Once upon a time there was a little fox',
  'Shipping address: 42 Harbor Road',
  'Order total 318.40 EUR',
  'Please keep this receipt',
  'Battery level 87%',
  'Chapter 3: The long winter',
  'Call us at 800-555-0199',
  'Model size reduced by 4x',
  'Tuesday, March 14',
  'Gate B12 boarding 07:45',
  'Fresh bread and butter',
  'Serial number QX-2291-B',
  'Temperature 21.5 C',
  'Welcome to the museum',
  'Exit only, no entry',
  'Page 17 of 230',
];

export const EVAL_LINES = [
  'Hello World 2024',
  'The quick brown fox',
  'jumps over the lazy dog',
  'Invoice No. 48213',
  'Total: $129.95',
  'Meeting at 10:30 AM',
  'Lowbit compresses ONNX',
  'Open source OCR model',
  'Phone 555-0172',
  'Quantization at 4 bits',
  'Room 204, second floor',
  'Best before 09/2027',
  'Low battery warning',
  'Train to Berlin 16:05',
  'Discount 25% today',
  'Thank you for shopping',
  'Version 1.4.2 released',
  'Keep out of reach',
  'Platform 9, coach C',
  'Net weight 500 g',
];

/** Writes the example data under `dir`. */
export function generate(dir: string): void {
  for (const sub of ['calib', 'eval']) {
    rmSync(join(dir, sub), { recursive: true, force: true });
    mkdirSync(join(dir, sub), { recursive: true });
  }
  CALIB_LINES.forEach((text, i) => {
    const face = DEJAVU_FACES[i % DEJAVU_FACES.length];
    writeFileSync(join(dir, 'calib', `line${String(i).padStart(2, '0')}.png`), encodePng(renderTextLine(text, { face })));
  });
  const labels: string[] = [];
  EVAL_LINES.forEach((text, i) => {
    const face = DEJAVU_FACES[(i + 1) % DEJAVU_FACES.length];
    const file = `line${String(i).padStart(2, '0')}.png`;
    writeFileSync(join(dir, 'eval', file), encodePng(renderTextLine(text, { face })));
    labels.push(`${file}\t${text}`);
  });
  writeFileSync(join(dir, 'eval', 'labels.tsv'), labels.join('\n') + '\n');
}

if (process.argv[1] && /generate\.ts$/.test(process.argv[1])) generate(__dirname);
