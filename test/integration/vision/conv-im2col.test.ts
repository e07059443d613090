// im2col on real Conv layers of PP-OCRv4 det (regular, strided and depthwise): the rows, times the
// layer's weight O×(I/g·kh·kw), plus bias, reproduce onnxruntime's own Conv output fetched from the
// same run — so a Hessian accumulated from these rows is the Conv's true input covariance.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../../../engine/onnx/model';
import { renderTextPage } from '../../../engine/data/imagesRender';
import { preprocessImage } from '../../../engine/data/images';
import { im2colChunks, convGeometryFromAttributes, convOutputSize } from '../../../engine/tasks/im2col';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';

describe('im2col against onnxruntime Conv (PP-OCRv4 det)', () => {
  test('rows · Wᵀ + b equals the Conv output for several layer kinds', async () => {
    const model = await loadModel(paddleOcrAsset('ch_PP-OCRv4_det_infer.onnx'));
    const convs = model.layers.filter((l) => l.op === 'Conv' && l.quantizable);
    const attrs = (l: (typeof convs)[number]) => convGeometryFromAttributes(l.nodeRef.name ?? l.name, l.nodeRef.attribute, l.dims);
    // First conv (stride 2), a depthwise one, a 1x1 one.
    const picks = [
      convs[0],
      convs.find((l) => (attrs(l).group ?? 1) > 1),
      convs.find((l) => attrs(l).kernel[0] === 1 && l !== convs[0]),
    ].filter((l) => l !== undefined);
    assert.equal(picks.length, 3, 'expected a strided, a depthwise and a 1x1 Conv in the det model');
    const names = picks.flatMap((l) => [l.input, l.nodeRef.output[0]]);
    const session = await ort.InferenceSession.create(model.withExtraOutputs(names), { intraOpNumThreads: 2 });
    const page = renderTextPage(['Conv check 123'], { width: 96 });
    const x = preprocessImage(page, {
      height: 64,
      width: 96,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      layout: 'nchw',
      channels: 'bgr',
    });
    const out = await session.run({ x: new ort.Tensor('float32', x.data, x.dims) });
    await session.release();
    for (const l of picks) {
      const g = attrs(l);
      const inp = out[l.input];
      const y = out[l.nodeRef.output[0]];
      const w = model.getWeight(l.name);
      const bias = l.nodeRef.input[2] ? model.consts.value(model.consts.resolve(l.nodeRef.input[2])!).data : undefined;
      const [, c, h, wd] = inp.dims as number[];
      const [oh, ow] = convOutputSize(h, wd, g);
      assert.deepEqual(Array.from(y.dims), [1, w.rows, oh, ow], `${l.name}: output dims`);
      const groups = g.group ?? 1;
      const og = w.rows / groups;
      assert.equal(w.cols, (c / groups) * g.kernel[0] * g.kernel[1]);
      let maxErr = 0,
        maxAbs = 0;
      const yd = y.data as Float32Array;
      for (let grp = 0; grp < groups; grp++) {
        let row = 0;
        for (const chunk of im2colChunks(inp.data as Float32Array, inp.dims, g, grp, 512)) {
          for (let r = 0; r < chunk.rows; r++, row++) {
            for (let k = 0; k < og; k++) {
              const o = grp * og + k;
              let s = bias ? bias[o] : 0;
              for (let q = 0; q < w.cols; q++) s += chunk.data[r * w.cols + q] * w.data[o * w.cols + q];
              const ref = yd[o * oh * ow + row];
              maxErr = Math.max(maxErr, Math.abs(s - ref));
              maxAbs = Math.max(maxAbs, Math.abs(ref));
            }
          }
        }
      }
      assert.ok(maxErr <= 1e-4 * Math.max(1, maxAbs), `${l.name} (${JSON.stringify(g)}): max error ${maxErr} (max |y| ${maxAbs})`);
    }
  });
});
