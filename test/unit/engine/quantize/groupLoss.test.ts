/** groupLoss / quadraticForm against float64 references written here (small random weights). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { groupLoss, quadraticForm, scaleColumns } from '../../../../engine/quantize/groupLoss';
import { nativeKernelsAvailable } from '../../../../engine/quantize/native';
import { rtn } from '../../../../native/ts/index';
import { lcg } from '../../../fixtures/lcg';

/** H = 2XXᵀ/N from random tokens (positive semi-definite), float64. */
function hessian(n: number, tokens: number, r: () => number): Float64Array {
  const H = new Float64Array(n * n);
  for (let t = 0; t < tokens; t++) {
    const x = Array.from({ length: n }, (_, j) => (r() - 0.5) * (j % 5 === 0 ? 10 : 1));
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) H[a * n + b] += (2 * x[a] * x[b]) / tokens;
  }
  return H;
}

describe('groupLoss', { skip: nativeKernelsAvailable() ? false : 'native addon not built' }, () => {
  const r = lcg(3);
  const rows = 6,
    cols = 40;
  const H = hessian(cols, 64, r);
  const weight = { rows, cols, data: Float32Array.from({ length: rows * cols }, () => r() - 0.5) };

  test('quadraticForm is tr(WHWᵀ)', () => {
    let ref = 0;
    for (let i = 0; i < rows; i++)
      for (let a = 0; a < cols; a++)
        for (let b = 0; b < cols; b++) ref += weight.data[i * cols + a] * H[a * cols + b] * weight.data[i * cols + b];
    assert.ok(Math.abs(quadraticForm(weight, H) - ref) <= 1e-9 * Math.abs(ref));
  });

  test('loss is Σ tr(ΔHΔᵀ) with Δ = W − Q(W·s)/s, summed over members', async () => {
    const quant = { bits: 3, groupSize: 16, symmetric: false };
    const s = Float32Array.from({ length: cols }, () => Math.exp(r() - 0.5));
    const member = { name: 'a', weight, quant, norm: quadraticForm(weight, H) };
    const q = await rtn(scaleColumns(weight.data, rows, cols, s), rows, cols, quant);
    let ref = 0;
    for (let i = 0; i < rows; i++) {
      const d = Array.from({ length: cols }, (_, j) => weight.data[i * cols + j] - Math.fround(q.dequant[i * cols + j] / s[j]));
      for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) ref += d[a] * H[a * cols + b] * d[b];
    }
    const one = await groupLoss([member], H, s, 1);
    assert.ok(Math.abs(one - ref) <= 1e-6 * ref, `${one} vs ${ref}`);
    const two = await groupLoss([member, { ...member, name: 'b' }], H, s, 1);
    assert.ok(Math.abs(two - 2 * one) <= 1e-12 * two);
  });
});
