/**
 * N:M index codes of the `packed` format (packNmSparseGrid): each group of m consecutive weights stores
 * the rank of its kept set among the C(m, keep) subsets, then exactly `keep` codes. Checked against a
 * float64 reference written here from the definition (the pattern list is the keep bitmasks with
 * `keep` bits set, in ascending order; the weight is (q − z)·s where kept, 0 elsewhere), not from the
 * encoder's rank formula; and a mask that is not N:M is an error naming the layer, row and columns.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePacked,
  packNmSparseGrid,
  packSparseGrid,
  patternBits,
  patternRank,
  patternTable,
  sparsePayloadBits,
} from '../../../../engine/export/packedForm';
import { normalizeQuant } from '../../../../engine/export/pack';
import { rtn } from '../../../integration/engine/exportFixtures';
import { randn } from '../onnx/tinyModels';

/** Keep bitmasks of m positions with exactly `keep` set, ascending: the reference pattern list. */
function referencePatterns(m: number, keep: number): number[] {
  const out: number[] = [];
  for (let mask = 0; mask < 2 ** m; mask++) if (mask.toString(2).split('1').length - 1 === keep) out.push(mask);
  return out;
}

/** Prunes the n smallest |w| of every group of m (ties by index), then RTN of the whole weight. */
function nmPruned(rows: number, cols: number, n: number, m: number, bits: number, seed: number) {
  const w = Float32Array.from(randn(rows * cols, seed));
  for (let g = 0; g < (rows * cols) / m; g++) {
    const idx = Array.from({ length: m }, (_, j) => g * m + j).sort((a, b) => Math.abs(w[a]) - Math.abs(w[b]) || a - b);
    for (const i of idx.slice(0, n)) w[i] = 0;
  }
  const { q, dequant } = rtn(w, rows, cols, bits, 16);
  return { w, q, dequant };
}

describe('N:M index codes', () => {
  for (const [n, m, bits] of [
    [2, 4, 3],
    [2, 4, 8],
    [4, 8, 4],
    [1, 4, 2],
  ] as const) {
    const keep = m - n;
    test(`${n}:${m} at ${bits} bits: pattern codes of ⌈log₂ C(${m},${keep})⌉ bits, decode = float64 reference`, () => {
      const ref = referencePatterns(m, keep);
      assert.deepEqual(patternTable(m, keep), ref, 'pattern table = ascending keep bitmasks');
      ref.forEach((mask, r) => assert.equal(patternRank(mask, m), r));
      assert.equal(patternBits(m, keep), Math.ceil(Math.log2(ref.length)));

      const rows = 6,
        cols = 32;
      const { q, dequant } = nmPruned(rows, cols, n, m, bits, 11 + m + bits);
      const nq = normalizeQuant('blk.w', q, dequant);
      const p = packNmSparseGrid('blk.w', nq, dequant, n, m);
      assert.equal(p.patterns.values.length, (rows * cols) / m);
      assert.equal(p.codes.values.length, ((rows * cols) / m) * keep + 1, 'keep codes per group + one pad');
      // Reference decode, float64: group g's mask is ref[pattern], its kept weights take the next codes.
      const z = (r: number, c: number) => (typeof p.zeros === 'number' ? p.zeros : p.zeros.data[r * (cols / 16) + Math.floor(c / 16)]);
      const s = (r: number, c: number) => p.scales.data[r * (cols / 16) + Math.floor(c / 16)];
      let k = 0;
      const want = new Float64Array(rows * cols);
      for (let i = 0; i < rows * cols; i++) {
        const r = Math.floor(i / cols),
          c = i % cols;
        const mask = ref[p.patterns.values[Math.floor(i / m)]];
        want[i] = (mask >> (i % m)) & 1 ? (p.codes.values[k++] - z(r, c)) * s(r, c) : 0;
      }
      const got = decodePacked(p);
      for (let i = 0; i < got.length; i++) {
        assert.equal(got[i], Math.fround(want[i]), `entry ${i}`);
        assert.equal(got[i], dequant[i], `entry ${i} vs the dequantized weight`);
      }
      // Payload: C(m,keep) patterns in ⌈log₂⌉ bits per group vs one bit a weight, and keep codes per group.
      const bitmap = packSparseGrid(nq, dequant);
      assert.equal(sparsePayloadBits(p), ((rows * cols) / m) * patternBits(m, keep) + (((rows * cols) / m) * keep + 1) * bits);
      let nz = 0;
      for (const v of dequant) nz += v !== 0 ? 1 : 0;
      assert.equal(sparsePayloadBits(bitmap), rows * cols + (nz + 1) * bits);
    });
  }

  test('a kept weight that rounded to 0 keeps its slot (exactly keep codes a group)', () => {
    const rows = 2,
      cols = 8;
    const { q, dequant } = nmPruned(rows, cols, 2, 4, 4, 5);
    const nq = normalizeQuant('t', q, dequant);
    // Force one kept weight to the zero point: it decodes to 0, the group still keeps 2 slots.
    const i = dequant.findIndex((v) => v !== 0);
    nq.codes[i] = nq.zeros[Math.floor(i / cols) * nq.nGroups + Math.floor((i % cols) / nq.group)];
    dequant[i] = 0;
    const p = packNmSparseGrid('t', nq, dequant, 2, 4);
    assert.equal(p.codes.values.length, ((rows * cols) / 4) * 2 + 1);
    assert.deepEqual(Array.from(decodePacked(p)), Array.from(dequant));
  });

  test('a mask that is not N:M is an error naming the layer, the row and the columns', () => {
    const rows = 4,
      cols = 16;
    const { q, dequant } = nmPruned(rows, cols, 2, 4, 4, 9);
    // Row 2, columns 8–11: restore a pruned weight, so the group keeps 3 of 4.
    const nq = normalizeQuant('layers.3.w2', q, dequant);
    const i = 2 * cols + 8 + [0, 1, 2, 3].find((j) => dequant[2 * cols + 8 + j] === 0)!;
    const p = 2 * nq.nGroups + Math.floor(8 / nq.group);
    nq.codes[i] = nq.zeros[p] + 1;
    dequant[i] = nq.scales[p];
    assert.throws(
      () => packNmSparseGrid('layers.3.w2', nq, dequant, 2, 4),
      /layer 'layers\.3\.w2': the mask is not 2:4: row 2, columns 8–11 keep 3 nonzero weights, at most 2 allowed/,
    );
    assert.throws(() => packNmSparseGrid('layers.3.w2', nq, dequant, 4, 8), /layer 'layers\.3\.w2'.*not 4:8|multiple of 8/);
    assert.throws(() => packNmSparseGrid('wq', nq, dequant, 1, 3), /layer 'wq'.*multiple of 3/);
  });
});
