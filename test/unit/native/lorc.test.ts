// LoRC (native/src/core/lorc.cc): exact at full rank, error non-increasing in rank, int8 factors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lorc, quantizeSymAbsmax } from '../../../native/ts/binaryLowRank';
import { centeredLcg } from '../../fixtures/lcg';

function reconstruct(
  res: { dequant: Float32Array; L: Float32Array; R: Float32Array; rank: number },
  rows: number,
  cols: number,
): Float64Array {
  const out = Float64Array.from(res.dequant);
  for (let x = 0; x < rows; x++)
    for (let k = 0; k < res.rank; k++) for (let c = 0; c < cols; c++) out[x * cols + c]! += res.L[x * res.rank + k]! * res.R[k * cols + c]!;
  return out;
}

describe('lorc', () => {
  test('full rank reconstructs W; error decreases with rank; L = U√Σ, R = √Σ Vᵀ balance', async () => {
    const r = centeredLcg(1),
      rows = 20,
      cols = 30;
    const w = Float32Array.from({ length: rows * cols }, r);
    const full = await lorc(w, rows, cols, null, { bits: 3, groupSize: 16, rank: 20, factorBits: 0 });
    const rec = reconstruct(full, rows, cols);
    const err = Math.max(...rec.map((v, i) => Math.abs(v - w[i]!)));
    assert.ok(err < 1e-5, `full-rank error ${err}`);
    assert.ok(full.details.rel_error_after < 1e-5);
    const plain = quantizeSymAbsmax(Float64Array.from(w), rows, cols, 3, 16, false);
    assert.deepEqual(full.codes, plain.codes, 'main weight is plain Q(W)');
    let prev = Infinity;
    for (const rank of [0, 1, 2, 4, 8, 16]) {
      const res = await lorc(w, rows, cols, null, { bits: 3, groupSize: 16, rank, factorBits: 0 });
      assert.ok(res.details.rel_error_after <= prev + 1e-12, `rank ${rank}`);
      prev = res.details.rel_error_after;
      for (let k = 0; k < rank; k++) {
        // ‖L_k‖² = ‖R_k‖² = σ_k
        let nl = 0,
          nr = 0;
        for (let x = 0; x < rows; x++) nl += res.L[x * rank + k]! ** 2;
        for (let c = 0; c < cols; c++) nr += res.R[k * cols + c]! ** 2;
        assert.ok(Math.abs(nl - nr) < 1e-4 * nl && Math.abs(nl - res.details.curve[k]!) < 1e-4 * nl);
      }
    }
  });

  test('int8 factors hold at most 255 levels per component and stay close', async () => {
    const r = centeredLcg(2),
      rows = 32,
      cols = 48,
      w = Float32Array.from({ length: rows * cols }, r);
    const fp = await lorc(w, rows, cols, null, { bits: 4, rank: 8, factorBits: 0 });
    const q8 = await lorc(w, rows, cols, null, { bits: 4, rank: 8, factorBits: 8 });
    for (let k = 0; k < 8; k++) {
      const col = [...Array(rows).keys()].map((x) => q8.L[x * 8 + k]!);
      const step = Math.max(...col.map(Math.abs)) / 127;
      col.forEach((v) => assert.ok(Math.abs(v / step - Math.round(v / step)) < 1e-3));
    }
    assert.ok(Math.abs(q8.details.rel_error_after - fp.details.rel_error_after) < 0.01);
  });
});
