import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { packMatMulNBits, rtn, LowbitKernelError } from '../../../native/ts/index';
import { gaussian } from './linearReference';

function unpack(bytes: Uint8Array, index: number, bits: number): number {
  const per = 8 / bits;
  return (bytes[Math.floor(index / per)]! >> ((index % per) * bits)) & ((1 << bits) - 1);
}

describe('packMatMulNBits', () => {
  for (const bits of [2, 4, 8]) {
    test(`${bits}-bit: codes, scales and zero points land where MatMulNBits reads them (ragged K)`, async () => {
      const N = 5,
        K = 40,
        bs = 16,
        kb = Math.ceil(K / bs),
        blob = (bs * bits) / 8;
      const q = await rtn(gaussian(N * K, bits), N, K, { bits, groupSize: bs, symmetric: false });
      const p = packMatMulNBits(q, bs);
      assert.equal(p.B.length, N * kb * blob);
      assert.equal(p.zeroPoints.length, N * Math.ceil((kb * bits) / 8));
      assert.deepEqual(p.scales, q.scales);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < kb * bs; k++) {
          const got = unpack(p.B.subarray(n * kb * blob + Math.floor(k / bs) * blob), k % bs, bits);
          assert.equal(got, k < K ? q.codes[n * K + k] : 0, `B[${n}, ${k}]`);
        }
        for (let b = 0; b < kb; b++)
          assert.equal(unpack(p.zeroPoints.subarray(n * Math.ceil((kb * bits) / 8)), b, bits), q.zeros[n * kb + b]);
      }
    });
  }

  test('per-channel weights use one power-of-two block ≥ K; mismatched blocks are rejected', async () => {
    const q = await rtn(gaussian(3 * 40, 1), 3, 40, { bits: 4, groupSize: -1, symmetric: true });
    const p = packMatMulNBits(q, 64);
    assert.equal(p.B.length, 3 * 32);
    assert.throws(
      () => packMatMulNBits(q, 32),
      (e: LowbitKernelError) => e.code === 'E_ARG',
    );
    assert.throws(
      () => packMatMulNBits(q, 48),
      (e: LowbitKernelError) => e.code === 'E_ARG' && /power of two/.test(e.message),
    );
  });
});
