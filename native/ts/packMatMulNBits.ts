/**
 * Packs an unpacked quantized weight into com.microsoft MatMulNBits inputs (bits 2, 4 or 8).
 * B: N × ceil(K/bs) × (bs·bits/8) bytes, codes little-endian within a byte (first element in the low
 * bits), the last block zero-padded; scales N × kBlocks; zeroPoints N × ceil(kBlocks·bits/8), packed the
 * same way. The block size must be a power of two ≥ 16 and equal the group size, or — for a per-channel
 * weight (groupSize = cols) — any power of two ≥ cols (one block per row).
 */
import { LowbitKernelError } from './addon';

/** Minimal shape of a quantized weight (see index.ts QuantizedWeight). */
export interface PackableWeight {
  rows: number;
  cols: number;
  bits: number;
  groupSize: number;
  codes: Uint8Array;
  scales: Float32Array;
  zeros: Uint8Array;
}

/** See the module comment. */
export function packMatMulNBits(q: PackableWeight, blockSize: number): { B: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array } {
  const { rows: N, cols: K, bits } = q;
  if (bits !== 2 && bits !== 4 && bits !== 8) throw new LowbitKernelError(`packMatMulNBits: bits must be 2, 4 or 8 (got ${bits})`, 'E_ARG');
  if (!Number.isInteger(blockSize) || blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)
    throw new LowbitKernelError(`packMatMulNBits: blockSize must be a power of two >= 16 (got ${blockSize})`, 'E_ARG');
  const perChannel = q.groupSize >= K;
  if (!(q.groupSize === blockSize || (perChannel && blockSize >= K)))
    throw new LowbitKernelError(`packMatMulNBits: blockSize ${blockSize} does not match groupSize ${q.groupSize} (cols ${K})`, 'E_ARG');
  const kb = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const per = 8 / bits;
  const B = new Uint8Array(N * kb * blob);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const blk = Math.floor(k / blockSize),
        off = k % blockSize;
      const byte = n * kb * blob + blk * blob + Math.floor(off / per);
      B[byte] = B[byte]! | (q.codes[n * K + k]! << ((off % per) * bits));
    }
  }
  const zpRow = Math.ceil((kb * bits) / 8);
  const zeroPoints = new Uint8Array(N * zpRow);
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < kb; b++) {
      const byte = n * zpRow + Math.floor(b / per);
      zeroPoints[byte] = zeroPoints[byte]! | (q.zeros[n * kb + b]! << ((b % per) * bits));
    }
  }
  return { B, scales: Float32Array.from(q.scales), zeroPoints };
}
