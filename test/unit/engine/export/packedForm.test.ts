import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as lowbit from '../../../../native/ts/binaryLowRank';
import { decodePacked, effectiveGroup, packBinary, packGrid, packPlanes, unpackPlanes } from '../../../../engine/export/packedForm';
import { ExportUnsupported, normalizeQuant } from '../../../../engine/export/pack';
import { rtn } from '../../../integration/engine/exportFixtures';
import { randn } from '../onnx/tinyModels';

const ROWS = 24;
const COLS = 150; // ragged against every group size used below

/** Diagonal-dominant SPD Hessian (the packing does not depend on where H came from). */
function hessian(n: number): Float64Array {
  const x = randn(n * 2 * n, 3);
  const H = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.5 : 0;
      for (let k = 0; k < 2 * n; k++) s += x[i * 2 * n + k] * x[j * 2 * n + k];
      H[i * n + j] = s / n;
    }
  return H;
}

describe('bit planes', () => {
  for (const bits of [1, 2, 3, 5, 7, 8]) {
    test(`${bits}-bit values survive pack → unpack, ${bits} planes of ceil(n/8) bytes`, () => {
      const n = 37;
      const values = Uint8Array.from(randn(n, bits), (v) => Math.floor((v + 1) * 2 ** (bits - 1)));
      const planes = packPlanes({ bits, values });
      assert.equal(planes.length, bits * 5);
      assert.deepEqual(unpackPlanes(planes, bits, n), values);
    });
  }
  test('value i is bit i of each plane, low bit first; values too wide are refused', () => {
    const planes = packPlanes({ bits: 2, values: Uint8Array.from([1, 2, 3, 0, 0, 0, 0, 0, 1]) });
    assert.deepEqual([...planes], [0b101, 0b1, 0b110, 0]);
    assert.throws(() => packPlanes({ bits: 2, values: Uint8Array.of(4) }), /does not fit in 2 bits/);
  });
});

describe("decodePacked reproduces the kernels' dequantized weights exactly", () => {
  const w = randn(ROWS * COLS, 9);

  test('BiLLM (8 fp16 scales per row-block, salient columns): equals dequant and decodeBillm', async () => {
    const r = await lowbit.billm(w, ROWS, COLS, hessian(COLS), { blockSize: 64 });
    const p = packBinary(
      {
        kind: 'billm',
        group: 64,
        sign1: r.stored.sign1,
        sign2: r.stored.sign2,
        groupBits: r.stored.group,
        salientCols: r.stored.salientCols,
        scales: r.stored.scales,
      },
      ROWS,
      COLS,
      r.dequant,
    );
    assert.equal(p.kind, 'lut');
    assert.deepEqual(decodePacked(p), r.dequant);
    assert.deepEqual(decodePacked(p), lowbit.decodeBillm(r.stored, ROWS, COLS, 64));
    assert.ok(
      r.stored.salientCols.some((b) => b !== 0),
      'some salient columns (exercises the order-2 path)',
    );
  });

  test('PB-LLM: 8-bit codes and signs recovered from dequant; one sign per binarized entry, one code per other', async () => {
    for (const group of [-1, 64]) {
      const r = await lowbit.pbllm(w, ROWS, COLS, hessian(COLS), { lowFrac: 0.8, groupSize: group });
      const p = packBinary({ kind: 'pbllm', group, mask: r.mask, binParams: r.binParams, q8Params: r.q8Params }, ROWS, COLS, r.dequant);
      assert.equal(p.kind, 'pbllm');
      if (p.kind !== 'pbllm') return;
      const nbin = r.mask.reduce((s, m) => s + m, 0);
      assert.equal(p.signs.values.length, nbin + 1);
      assert.equal(p.codes.values.length, ROWS * COLS - nbin + 1);
      assert.equal(p.bin.group, effectiveGroup(group, COLS));
      assert.deepEqual(decodePacked(p), r.dequant);
      // A weight off both the binary levels and the 8-bit grid is refused, not silently rounded.
      const bad = Float32Array.from(r.dequant);
      bad[r.mask.indexOf(1)] += 1e-3;
      assert.throws(
        () => packBinary({ kind: 'pbllm', group, mask: r.mask, binParams: r.binParams, q8Params: r.q8Params }, ROWS, COLS, bad),
        ExportUnsupported,
      );
    }
  });

  test('dual binarization (fp32 α₁, α₂ per row-group)', async () => {
    const r = await lowbit.dualBinarize(w, ROWS, COLS, { groupSize: 32, iters: 4 });
    const p = packBinary({ kind: 'dualbin', group: 32, b1: r.b1, b2: r.b2, alphas: r.alphas }, ROWS, COLS, r.dequant);
    assert.deepEqual(decodePacked(p), r.dequant);
  });

  test('integer grids at 3 bits, per-group zero points and a single shared zero point', () => {
    const { q, dequant } = rtn(w, ROWS, COLS, 3, 32);
    const p = packGrid(normalizeQuant('t', q, dequant));
    assert.equal(p.codes.bits, 3);
    assert.notEqual(typeof p.zeros, 'number');
    assert.deepEqual(decodePacked(p), dequant);
    const sym = { ...q, zeros: undefined, codes: Uint8Array.from(q.codes, () => 4) };
    const flat = packGrid(normalizeQuant('t', sym, new Float32Array(ROWS * COLS)));
    assert.equal(flat.zeros, 4);
    assert.ok(decodePacked(flat).every((v) => v === 0));
  });

  test('a parameter table of the wrong size names what is wrong', () => {
    assert.throws(
      () =>
        packBinary(
          { kind: 'dualbin', group: 32, b1: new Uint8Array(ROWS * COLS), b2: new Uint8Array(ROWS * COLS), alphas: new Float32Array(3) },
          ROWS,
          COLS,
          new Float32Array(ROWS * COLS),
        ),
      /dualbin alphas: 3 parameters, expected 24×5×2/,
    );
  });
});
