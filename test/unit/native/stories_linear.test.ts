import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { gptq, rtn, relativeError, Hessian } from '../../../native/ts/index';
import { loadModel } from '../../../engine/onnx';
import { correlatedX } from './linearReference';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const modelPath = path.resolve(repoRoot, '..', 'shared', 'models', 'stories260K', 'model.onnx');
const skip = existsSync(modelPath) ? false : `stories260K not found at ${modelPath}`;

// Real stories260K weights (hidden 172: per-group 32 leaves a ragged last group of 12 columns) with a
// synthetic correlated Hessian: GPTQ must beat RTN on the H-weighted objective for every layer kind.
describe('linear kernels on real stories260K weights', { skip }, () => {
  test('GPTQ g32 beats RTN g32 on tr(ΔHΔᵀ); codes/params consistent with ragged groups', async () => {
    const model = await loadModel(modelPath);
    for (const name of ['layers.0.wq', 'layers.2.w2', 'layers.4.w1']) {
      const { data: w, rows, cols } = model.getWeight(name);
      const h = new Hessian(cols);
      await h.add(correlatedX(256, cols, cols), 256);
      const opts = { bits: 3, groupSize: 32, symmetric: false };
      const r = await rtn(w, rows, cols, opts);
      const g = await gptq(w, rows, cols, h, opts);
      const ng = Math.ceil(cols / 32);
      assert.equal(g.scales.length, rows * ng, `${name}: one parameter set per (row, group)`);
      for (let i = 0; i < rows * cols; i++) {
        const k = Math.floor(i / cols) * ng + Math.floor((i % cols) / 32);
        assert.equal(g.dequant[i], Math.fround(g.scales[k]! * (g.codes[i]! - g.zeros[k]!)), `${name}: ŵ[${i}] = s(q−z)`);
      }
      const er = relativeError(w, r.dequant, rows, cols, h),
        eg = relativeError(w, g.dequant, rows, cols, h);
      assert.ok(eg < er, `${name} (${rows}×${cols}): gptq ${eg} vs rtn ${er}`);
    }
  });
});
