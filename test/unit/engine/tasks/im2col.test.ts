import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  im2colChunks,
  convOutputSize,
  addConvActivation,
  convGeometryFromAttributes,
  type ConvGeometry,
} from '../../../../engine/tasks/im2col';

/** Direct float64 grouped 2-D convolution (ONNX Conv semantics, no bias). */
function convRef(x: Float32Array, [n, c, h, w]: number[], wt: Float64Array, o: number, g: ConvGeometry): Float64Array {
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.stride ?? [1, 1];
  const [pt, pl] = g.pads ?? [0, 0, 0, 0];
  const [dh, dw] = g.dilation ?? [1, 1];
  const groups = g.group ?? 1;
  const [oh, ow] = convOutputSize(h, w, g);
  const cg = c / groups;
  const og = o / groups;
  const y = new Float64Array(n * o * oh * ow);
  for (let b = 0; b < n; b++)
    for (let oc = 0; oc < o; oc++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let s = 0;
          const grp = Math.floor(oc / og);
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const yy = oy * sh - pt + i * dh;
                const xx = ox * sw - pl + j * dw;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                s += x[((b * c + grp * cg + ci) * h + yy) * w + xx] * wt[((oc * cg + ci) * kh + i) * kw + j];
              }
          y[((b * o + oc) * oh + oy) * ow + ox] = s;
        }
  return y;
}

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

describe('im2col', () => {
  const cases: [string, number[], number, ConvGeometry][] = [
    ['3x3 pad 1', [2, 3, 5, 6], 4, { kernel: [3, 3], pads: [1, 1, 1, 1] }],
    ['stride 2, asym pads, dilation 2', [1, 4, 9, 7], 2, { kernel: [3, 2], stride: [2, 1], pads: [1, 0, 2, 1], dilation: [2, 2] }],
    ['grouped (depthwise)', [1, 4, 5, 5], 4, { kernel: [3, 3], pads: [1, 1, 1, 1], group: 4 }],
    ['1x1', [1, 6, 3, 3], 5, { kernel: [1, 1] }],
  ];
  for (const [name, dims, o, g] of cases) {
    test(`rows · Wᵀ equals direct convolution: ${name}`, () => {
      const [n, c, h, w] = dims;
      const x = rand(n * c * h * w, 7);
      const groups = g.group ?? 1;
      const cols = (c / groups) * g.kernel[0] * g.kernel[1];
      const wt = Float64Array.from(rand(o * cols, 11));
      const ref = convRef(x, dims, wt, o, g);
      const [oh, ow] = convOutputSize(h, w, g);
      const og = o / groups;
      for (let grp = 0; grp < groups; grp++) {
        let row = 0;
        for (const chunk of im2colChunks(x, dims, g, grp, 7)) {
          assert.equal(chunk.cols, cols);
          assert.ok(chunk.rows <= 7);
          for (let r = 0; r < chunk.rows; r++, row++) {
            const b = Math.floor(row / (oh * ow));
            const pos = row % (oh * ow);
            for (let k = 0; k < og; k++) {
              const oc = grp * og + k;
              let s = 0;
              for (let q = 0; q < cols; q++) s += chunk.data[r * cols + q] * wt[oc * cols + q];
              assert.ok(Math.abs(s - ref[(b * o + oc) * oh * ow + pos]) < 1e-9, `${name} row ${row} oc ${oc}`);
            }
          }
        }
        assert.equal(row, n * oh * ow);
      }
    });
  }
  test('errors name the problem', () => {
    assert.throws(() => im2colChunks(new Float32Array(4), [4], { kernel: [1, 1] }).next(), /expected NCHW/);
    assert.throws(() => im2colChunks(new Float32Array(9), [1, 3, 1, 3], { kernel: [1, 1], group: 2 }).next(), /not divisible by group=2/);
    assert.throws(() => convOutputSize(2, 2, { kernel: [3, 3] }), /does not fit/);
  });
});

describe('addConvActivation', () => {
  test('pools all groups into one XᵀX equal to the direct sum over patches', () => {
    const dims = [1, 2, 4, 4];
    const x = rand(32, 3);
    const g: ConvGeometry = { kernel: [2, 2], stride: [2, 2], group: 2 };
    const cols = 4;
    const h = new Float64Array(cols * cols);
    let added = 0;
    const acc = {
      add(d: Float32Array, rows: number) {
        added += rows;
        for (let r = 0; r < rows; r++)
          for (let a = 0; a < cols; a++) for (let b = 0; b < cols; b++) h[a * cols + b] += d[r * cols + a] * d[r * cols + b];
      },
    };
    assert.equal(addConvActivation([acc], x, dims, g, 3), 8);
    assert.equal(added, 8);
    // direct: for each channel (group) and each 2x2 non-overlapping patch
    const ref = new Float64Array(cols * cols);
    for (let c = 0; c < 2; c++)
      for (let py = 0; py < 2; py++)
        for (let px = 0; px < 2; px++) {
          const v = [0, 1, 2, 3].map((k) => x[c * 16 + (py * 2 + (k >> 1)) * 4 + px * 2 + (k & 1)]);
          for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) ref[a * 4 + b] += v[a] * v[b];
        }
    for (let i = 0; i < 16; i++) assert.ok(Math.abs(h[i] - ref[i]) < 1e-9);
  });
});

describe('convGeometryFromAttributes', () => {
  test('explicit attributes, defaults from the weight, SAME_UPPER, and rank errors', () => {
    const g = convGeometryFromAttributes(
      'c1',
      [
        { name: 'strides', ints: [2, 2] },
        { name: 'pads', ints: [1, 1, 1, 1] },
        { name: 'group', i: 4 },
      ],
      [8, 1, 3, 3],
    );
    assert.deepEqual(g, { kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], dilation: [1, 1], group: 4 });
    const s = convGeometryFromAttributes(
      'c2',
      [
        { name: 'auto_pad', s: 'SAME_UPPER' },
        { name: 'kernel_shape', ints: [3, 3] },
        { name: 'strides', ints: [2, 2] },
      ],
      [1, 1, 3, 3],
      { h: 6, w: 6 },
    );
    assert.deepEqual(s.pads, [0, 0, 1, 1]);
    assert.deepEqual(convOutputSize(6, 6, s), [3, 3]);
    assert.throws(() => convGeometryFromAttributes('c3', [], [4, 4, 3]), /Conv c3: only 2-D/);
  });
});
