import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ExportUnsupported, normalizeQuant, packMatMulNBitsB, packMatMulNBitsZeros, packNibbles } from '../../../../engine/export/pack';
import { matMulNBitsBlockSize } from '../../../../engine/export/writers';

describe('MatMulNBits packing (docs/algorithms.md §7)', () => {
  test('4-bit: low nibble first; ragged K padded to the block with the zero point', () => {
    const cols = 18;
    const codes = Uint8Array.from({ length: cols }, (_, i) => i % 16);
    const nq = normalizeQuant(
      't',
      { bits: 4, groupSize: 16, rows: 1, cols, codes, scales: new Float32Array([1, 1]), zeros: Uint8Array.from([3, 5]) },
      Float32Array.from(codes, (c, i) => c - (i < 16 ? 3 : 5)),
    );
    const b = packMatMulNBitsB(nq, 16);
    assert.equal(b.length, 2 * 8);
    assert.deepEqual([...b.subarray(0, 8)], [0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
    // Block 2 holds codes 0, 1 then 14 padding entries equal to its zero point 5.
    assert.deepEqual([...b.subarray(8)], [0x10, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55]);
    assert.deepEqual([...packMatMulNBitsZeros(nq)], [0x53]);
  });

  test('2-bit: element j at bits 2(j%4); 8-bit: one byte per code', () => {
    const codes = Uint8Array.from({ length: 16 }, (_, i) => i % 4);
    const nq = normalizeQuant(
      't',
      { bits: 2, groupSize: 16, rows: 1, cols: 16, codes, scales: new Float32Array([2]) },
      Float32Array.from(codes, (c) => (c - 2) * 2),
    );
    assert.deepEqual([...packMatMulNBitsB(nq, 16)], [0xe4, 0xe4, 0xe4, 0xe4]);
    assert.equal(nq.defaultZeros, true);
    const c8 = Uint8Array.from({ length: 16 }, (_, i) => i * 16);
    const n8 = normalizeQuant(
      't',
      { bits: 8, groupSize: -1, rows: 1, cols: 16, codes: c8, scales: new Float32Array([1]), zeros: Uint8Array.from([7]) },
      Float32Array.from(c8, (c) => c - 7),
    );
    assert.deepEqual([...packMatMulNBitsB(n8, 16)], [...c8]);
    assert.deepEqual([...packMatMulNBitsZeros(n8)], [7]);
    assert.deepEqual([...packNibbles(Uint8Array.from([1, 2, 3]))], [0x21, 0x03]);
  });

  test('signed symmetric codes are shifted by 2^(b−1); mismatches and non-integer zeros are reported', () => {
    const codes = Int8Array.from([-7, 0, 7, -1]);
    const nq = normalizeQuant(
      'sym',
      { bits: 4, groupSize: -1, rows: 1, cols: 4, codes, scales: new Float32Array([0.5]) },
      Float32Array.from(codes, (c) => c * 0.5),
    );
    assert.deepEqual([...nq.codes], [1, 8, 15, 7]);
    assert.equal(nq.defaultZeros, true);
    assert.throws(
      () =>
        normalizeQuant('bad', { bits: 4, groupSize: -1, rows: 1, cols: 4, codes, scales: new Float32Array([0.5]) }, new Float32Array(4)),
      /layer 'bad': codes\/scales\/zeros give/,
    );
    assert.throws(
      () =>
        normalizeQuant(
          'z',
          {
            bits: 4,
            groupSize: -1,
            rows: 1,
            cols: 4,
            codes: new Uint8Array(4),
            scales: new Float32Array([1]),
            zeros: new Float32Array([0.5]),
          },
          new Float32Array(4).fill(-0.5),
        ),
      ExportUnsupported,
    );
    assert.throws(
      () =>
        normalizeQuant(
          'r',
          { bits: 4, groupSize: -1, rows: 1, cols: 4, codes: Uint8Array.from([16, 0, 0, 0]), scales: new Float32Array([1]) },
          new Float32Array(4),
        ),
      /outside 4-bit range/,
    );
    assert.throws(
      () =>
        normalizeQuant(
          's',
          { bits: 4, groupSize: 2, rows: 1, cols: 4, codes: new Uint8Array(4), scales: new Float32Array([1]) },
          new Float32Array(4),
        ),
      /1 scales, expected 1×2/,
    );
  });

  test('real-valued zero points: kept exactly when the caller allows them (MatMulNBits), checked against the weight', () => {
    const q = {
      bits: 4,
      groupSize: 2,
      rows: 1,
      cols: 4,
      codes: Uint8Array.from([0, 3, 15, 7]),
      scales: Float32Array.from([0.5, 0.25]),
      zeros: Float32Array.from([1.25, 7.5]),
    };
    const w = Float32Array.from([(0 - 1.25) * 0.5, (3 - 1.25) * 0.5, (15 - 7.5) * 0.25, (7 - 7.5) * 0.25]);
    assert.throws(() => normalizeQuant('f', q, w), ExportUnsupported);
    const nq = normalizeQuant('f', q, w, { floatZeros: true });
    assert.deepEqual(Array.from(nq.floatZeros!), [1.25, 7.5]);
    assert.deepEqual(Array.from(nq.zeros), [1, 8], 'rounded copies for the padding');
    assert.equal(nq.defaultZeros, false);
    // A dequantized weight that the float zero points do not give is an error naming the layer.
    const off = Float32Array.from(w);
    off[2] += 0.1;
    assert.throws(() => normalizeQuant('f', q, off, { floatZeros: true }), /layer 'f': codes\/scales\/zeros give/);
    // Integer zero points stay integer (uint8, packed) even when float ones are allowed.
    const ints = normalizeQuant('i', { ...q, zeros: Float32Array.from([1, 7]) }, Float32Array.from([-0.5, 1, 2, 0]), { floatZeros: true });
    assert.equal(ints.floatZeros, undefined);
  });

  test('block size: per-row groups use the next power of 2 ≥ 16; other groups must be powers of 2 ≥ 16', () => {
    const mk = (cols: number, group: number) =>
      normalizeQuant(
        'b',
        {
          bits: 4,
          groupSize: group,
          rows: 1,
          cols,
          codes: new Uint8Array(cols).fill(8),
          scales: new Float32Array(Math.ceil(cols / (group <= 0 ? cols : group))).fill(1),
        },
        new Float32Array(cols),
      );
    assert.equal(matMulNBitsBlockSize(mk(172, -1)), 256);
    assert.equal(matMulNBitsBlockSize(mk(10, -1)), 16);
    assert.equal(matMulNBitsBlockSize(mk(172, 64)), 64);
    assert.throws(() => matMulNBitsBlockSize(mk(172, 8)), ExportUnsupported);
    assert.throws(() => matMulNBitsBlockSize(mk(172, 24)), /power-of-2 group size/);
  });
});
