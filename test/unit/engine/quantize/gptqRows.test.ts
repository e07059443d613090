/**
 * GPTQ in row slices (issue 11) gives the codes, scales, zeros and dequant of one whole call bit for
 * bit — per row, grouped, act-order, symmetric, with slices that do not divide the rows — and the
 * slicing rule only cuts tall layers whose float64 working copy passes the threshold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gptqRowSlices, gptqSliced } from '../../../../engine/quantize/gptqRows';
import * as native from '../../../../native/ts/index';

function rand(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  };
}

async function case_(rows: number, cols: number, opts: native.GptqOptions, slices: [number, number][]): Promise<void> {
  const r = rand(rows * 31 + cols);
  const w = Float32Array.from({ length: rows * cols }, () => 0.05 * r());
  const tokens = 3 * cols;
  const x = Float32Array.from({ length: tokens * cols }, (_, i) => r() * (1 + (i % cols) / cols));
  const h = new native.Hessian(cols);
  await h.add(x, tokens);
  const whole = await native.gptq(w, rows, cols, h, opts);
  const progress: number[] = [];
  const sliced = await gptqSliced(w, rows, cols, h, opts, { onProgress: (d, t) => progress.push(d / t) }, slices);
  const what = `${rows}×${cols} ${JSON.stringify(opts)} in ${slices.length} slices`;
  assert.deepEqual(sliced.codes, whole.codes, `codes: ${what}`);
  assert.deepEqual(sliced.scales, whole.scales, `scales: ${what}`);
  assert.deepEqual(sliced.zeros, whole.zeros, `zeros: ${what}`);
  assert.deepEqual(sliced.dequant, whole.dequant, `dequant: ${what}`);
  assert.equal(sliced.rows, rows);
  assert.equal(sliced.damp, whole.damp);
  assert.ok(Math.abs(sliced.loss - whole.loss) <= 1e-9 * Math.abs(whole.loss), `loss ${sliced.loss} vs ${whole.loss}`);
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1], 'progress only moves forward');
  assert.ok(progress.length && progress[progress.length - 1] <= 1);
}

test('row slices give the whole call’s codes bit for bit', async () => {
  const slices: [number, number][] = [
    [0, 256],
    [256, 512],
    [512, 700],
  ];
  await case_(700, 96, { bits: 4, groupSize: 32, symmetric: false }, slices);
  await case_(700, 96, { bits: 3, groupSize: -1, symmetric: true }, slices);
  await case_(700, 96, { bits: 4, groupSize: 32, symmetric: false, actOrder: true }, slices);
  await case_(700, 100, { bits: 2, groupSize: 64, symmetric: false, blockSize: 16 }, slices); // ragged last group
  await case_(1030, 64, { bits: 4, groupSize: 16, symmetric: false }, gptqRowSlices(1030, 64, 0, 256 * 64 * 8));
});

test('only tall layers above the threshold are sliced, on 256-row boundaries', () => {
  assert.deepEqual(gptqRowSlices(5632, 2048), [[0, 5632]]); // TinyLlama MLP: 92 MB working copy
  const head = gptqRowSlices(32000, 2048); // 524 MB: slices of ≤ 128 MB
  assert.equal(head.length, 4);
  assert.deepEqual(head[0], [0, 8192]);
  assert.deepEqual(head[3], [24576, 32000]);
  for (const [a, b] of head) assert.ok(a % 256 === 0 && (b - a) * 2048 * 8 <= 128 * 2 ** 20);
  assert.deepEqual(gptqRowSlices(1000, 8, 0, 1), [
    [0, 256],
    [256, 512],
    [512, 768],
    [768, 1000],
  ]);
});
