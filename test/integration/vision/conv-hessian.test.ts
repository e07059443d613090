// Conv Hessians through the pipeline: tensor (.npz) calibration feeds → calibrate() with im2col →
// H = 2/N·Σ rows rowsᵀ, compared with a float64 im2col written here (independent loops), on the
// first Conv of PP-OCRv4 det (3×3, stride 2, reading the graph input). Also: two Convs reading one
// tensor with different kernels get separate Hessians (the key includes the geometry).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../../engine/onnx/model';
import { calibrate, statisticsKey, type CalibratedLayer } from '../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../engine/calibrate/calibrationData';
import { writeImageNpz } from './npzFixture';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';
import { nativeKernelsAvailable } from '../../../engine/quantize/native';

const skip = nativeKernelsAvailable() ? false : 'the native kernels (native/ts/index.ts) do not load in this checkout';

/** float64 2/N·Σ over im2col rows (zero padding), columns ordered (c, i, j). */
function referenceHessian(
  x: Float32Array,
  [n, c, h, w]: number[],
  k: number,
  stride: number,
  pad: number,
): { H: Float64Array; cols: number } {
  const cols = c * k * k;
  const H = new Float64Array(cols * cols);
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1,
    ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const row = new Float64Array(cols);
  let N = 0;
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        for (let ch = 0; ch < c; ch++)
          for (let i = 0; i < k; i++)
            for (let j = 0; j < k; j++) {
              const y = oy * stride - pad + i,
                xx = ox * stride - pad + j;
              row[(ch * k + i) * k + j] = y >= 0 && y < h && xx >= 0 && xx < w ? x[((b * c + ch) * h + y) * w + xx] : 0;
            }
        for (let p = 0; p < cols; p++) for (let q = 0; q < cols; q++) H[p * cols + q] += row[p] * row[q];
        N++;
      }
  for (let i = 0; i < H.length; i++) H[i] *= 2 / N;
  return { H, cols };
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

describe('Conv calibration Hessians (im2col) on PP-OCRv4 det with .npz feeds', () => {
  test('first Conv: H matches a float64 im2col reference; a 1×1 geometry on the same tensor gets its own H', { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-convh-'));
    const { path, data, dims } = writeImageNpz(dir, 3, 32, 64);
    const model = await loadModel(paddleOcrAsset('ch_PP-OCRv4_det_infer.onnx'));
    const first = model.layers.find((l) => l.name === 'conv2d_0.w_0');
    assert.ok(first, 'conv2d_0.w_0 not found in the det model');
    const attr = (n: string) => first.nodeRef.attribute.find((a) => a.name === n)?.ints?.map(Number);
    assert.deepEqual(attr('kernel_shape'), [3, 3]);
    const stride = attr('strides')![0],
      pad = attr('pads')![0];
    const conv3: CalibratedLayer = {
      name: first.name,
      input: first.input,
      cols: 27,
      conv: { node: first.node, attributes: first.nodeRef.attribute, kernelDims: first.ref.dims },
    };
    // A hypothetical 1×1 Conv on the same tensor: separate key, 3 columns.
    const conv1: CalibratedLayer = {
      name: 'pointwise',
      input: first.input,
      cols: 3,
      conv: { node: 'pw', attributes: [{ name: 'kernel_shape', ints: [1, 1] }], kernelDims: [8, 3, 1, 1] },
    };
    assert.notEqual(statisticsKey(conv3), statisticsKey(conv1));

    const feeds = await calibrationFeeds({ kind: 'tensors', path, samples: 3, mode: 'parallel' }, model.summary(), undefined, 2);
    assert.equal(feeds.samples, 3);
    assert.equal(feeds.batches.length, 2);
    const stats = await calibrate({ model, layers: [conv3, conv1], batches: feeds.batches, threads: 2 });
    assert.equal(stats.size, 2);

    const s3 = stats.get(statisticsKey(conv3))!;
    const ref3 = referenceHessian(data, dims, 3, stride, pad);
    assert.equal(s3.n, 27);
    assert.deepEqual(s3.layers, [first.name]);
    const d3 = maxRelDiff(s3.hessian.matrix(), ref3.H);
    assert.ok(d3 < 1e-5, `3×3 Hessian differs from the reference by ${d3}`);

    const s1 = stats.get(statisticsKey(conv1))!;
    const ref1 = referenceHessian(data, dims, 1, 1, 0);
    const d1 = maxRelDiff(s1.hessian.matrix(), ref1.H);
    assert.ok(d1 < 1e-5, `1×1 Hessian differs from the reference by ${d1}`);
    assert.equal(s1.hessian.samples, 3 * 32 * 64);
  });
});
