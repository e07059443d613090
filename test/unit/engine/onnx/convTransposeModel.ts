/**
 * A small hand-built model with two ConvTranspose layers reading one input x [n, 16, h, w]:
 * `up.weight` [16, 8, 3, 3] (group 1, stride 2, asymmetric pads, output_padding, dilation, bias) and
 * `up2.weight` [16, 3, 2, 3] (group 2, stride [1, 2], pads, output_padding, bias). Plus a float64
 * ConvTranspose written from the ONNX spec, and the matrix view written with explicit indices.
 */
import type { AttributeProto, ModelProto } from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor } from '../../../../engine/onnx/tensor';
import { node, randn, vi } from './tinyModels';

/** Geometry of one 2-D ConvTranspose (ONNX attribute meanings). */
export interface ConvTransposeSpec {
  weight: string;
  bias: string;
  output: string;
  /** [C_in, C_out/group, kh, kw]. */
  dims: [number, number, number, number];
  group: number;
  strides: [number, number];
  /** [top, left, bottom, right]. */
  pads: [number, number, number, number];
  outputPadding: [number, number];
  dilations: [number, number];
}

export const CIN = 16;

export const SPECS: ConvTransposeSpec[] = [
  {
    weight: 'up.weight',
    bias: 'up.bias',
    output: 'y1',
    dims: [CIN, 8, 3, 3],
    group: 1,
    strides: [2, 2],
    pads: [1, 0, 0, 1],
    outputPadding: [1, 0],
    dilations: [1, 2],
  },
  {
    weight: 'up2.weight',
    bias: 'up2.bias',
    output: 'y2',
    dims: [CIN, 3, 2, 3],
    group: 2,
    strides: [1, 2],
    pads: [0, 1, 1, 0],
    outputPadding: [0, 1],
    dilations: [1, 1],
  },
];

const ints = (name: string, v: number[]): AttributeProto => ({
  name,
  type: 7,
  ints: v,
  floats: [],
  strings: [],
  tensors: [],
  graphs: [],
  unknown: [],
});
const int = (name: string, v: number): AttributeProto => ({
  name,
  type: 2,
  i: v,
  ints: [],
  floats: [],
  strings: [],
  tensors: [],
  graphs: [],
  unknown: [],
});

/** Output spatial size (ONNX ConvTranspose, explicit pads). */
export function outSize(s: ConvTransposeSpec, h: number, w: number): [number, number] {
  const [, , kh, kw] = s.dims;
  return [
    s.strides[0] * (h - 1) + s.outputPadding[0] + (kh - 1) * s.dilations[0] + 1 - s.pads[0] - s.pads[2],
    s.strides[1] * (w - 1) + s.outputPadding[1] + (kw - 1) * s.dilations[1] + 1 - s.pads[1] - s.pads[3],
  ];
}

/** Stored weights and biases (deterministic). */
export function weights(): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  SPECS.forEach((s, k) => {
    const n = s.dims.reduce((a, b) => a * b, 1);
    m.set(s.weight, randn(n, 100 + k));
    m.set(s.bias, randn(s.dims[1] * s.group, 200 + k));
  });
  return m;
}

/** The model, with x [n, 16, h, w] (symbolic n, h, w) and outputs y1, y2. */
export function convTransposeModel(w = weights()): ModelProto {
  const nodes = SPECS.map((s) => {
    const nd = node('ConvTranspose', ['x', s.weight, s.bias], [s.output], `${s.weight.split('.')[0]}_ConvTranspose`);
    nd.attribute.push(
      ints('kernel_shape', s.dims.slice(2)),
      ints('strides', s.strides),
      ints('pads', s.pads),
      ints('output_padding', s.outputPadding),
      ints('dilations', s.dilations),
      int('group', s.group),
    );
    return nd;
  });
  const initializer = SPECS.flatMap((s) => [
    makeFloatTensor(s.weight, s.dims, w.get(s.weight)!),
    makeFloatTensor(s.bias, [s.dims[1] * s.group], w.get(s.bias)!),
  ]);
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 'lowbit-test',
    graph: {
      name: 'convtranspose',
      node: nodes,
      initializer,
      input: [vi('x', DT.FLOAT, ['n', CIN, 'h', 'w'])],
      output: SPECS.map((s) => vi(s.output, DT.FLOAT, ['n', s.dims[1] * s.group, 'oh', 'ow'])),
      valueInfo: [],
      unknown: [],
    },
    unknown: [],
  };
}

/**
 * float64 ConvTranspose from the ONNX spec: every input pixel (iy, ix) of channel c (group G) adds
 * x·W[c, o, i, j] to output (G·O/g + o, iy·sh − pad_top + i·dh, ix·sw − pad_left + j·dw) when that lies
 * inside the output; then the bias.
 */
export function referenceConvTranspose(
  s: ConvTransposeSpec,
  x: Float32Array,
  [n, c, h, w]: number[],
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
): { y: Float64Array; dims: number[] } {
  const [cin, og, kh, kw] = s.dims;
  if (c !== cin) throw new Error('channel mismatch');
  const cg = cin / s.group;
  const cout = og * s.group;
  const [oh, ow] = outSize(s, h, w);
  const y = new Float64Array(n * cout * oh * ow);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < cin; ch++) {
      const g = Math.floor(ch / cg);
      for (let iy = 0; iy < h; iy++)
        for (let ix = 0; ix < w; ix++) {
          const v = x[((b * cin + ch) * h + iy) * w + ix];
          for (let o = 0; o < og; o++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const oy = iy * s.strides[0] - s.pads[0] + i * s.dilations[0];
                const ox = ix * s.strides[1] - s.pads[1] + j * s.dilations[1];
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                y[((b * cout + g * og + o) * oh + oy) * ow + ox] += v * weight[((ch * og + o) * kh + i) * kw + j];
              }
        }
    }
  for (let b = 0; b < n; b++) for (let o = 0; o < cout; o++) for (let p = 0; p < oh * ow; p++) y[(b * cout + o) * oh * ow + p] += bias[o];
  return { y, dims: [n, cout, oh, ow] };
}

/** Matrix [rows = C_out·kh·kw, cols = C_in/g] → stored [C_in, C_out/g, kh, kw], with explicit indices. */
export function matrixToStored(s: ConvTransposeSpec, m: ArrayLike<number>): Float32Array {
  const [cin, og, kh, kw] = s.dims;
  const cg = cin / s.group;
  const out = new Float32Array(cin * og * kh * kw);
  for (let g = 0; g < s.group; g++)
    for (let ci = 0; ci < cg; ci++)
      for (let o = 0; o < og; o++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const row = ((g * og + o) * kh + i) * kw + j;
            out[(((g * cg + ci) * og + o) * kh + i) * kw + j] = m[row * cg + ci];
          }
  return out;
}

/**
 * Correlated input channels with unequal scales (so that the Hessian is far from diagonal and
 * GPTQ has something to exploit): x[c] = scale_c·(Σ_j A[c, j]·z_j) with 4 latent factors + noise.
 */
export function correlatedInput(n: number, h: number, w: number, seed: number): Float32Array {
  const z = randn(n * 4 * h * w, seed);
  const noise = randn(n * CIN * h * w, seed + 1);
  const A = randn(CIN * 4, 7);
  const x = new Float32Array(n * CIN * h * w);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < CIN; c++)
      for (let p = 0; p < h * w; p++) {
        let v = 0.05 * noise[(b * CIN + c) * h * w + p];
        for (let j = 0; j < 4; j++) v += A[c * 4 + j] * z[(b * 4 + j) * h * w + p];
        x[(b * CIN + c) * h * w + p] = (1 + (c % 5)) * v;
      }
  return x;
}
