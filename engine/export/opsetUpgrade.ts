/**
 * Raises the default-domain opset for QDQ export (DequantizeLinear axis: 13, block_size/int4: 21),
 * from any source opset ≥ 9. Every default-domain op of the model (subgraphs included) must be in
 * one of two tables: COMPATIBLE (its changes between 9 and 21 only add types, attributes with the old
 * default, or allow what was invalid before) or REWRITES (a signature or meaning changed; the node is
 * rewritten). Anything else, or a rewrite that cannot keep the meaning, throws ExportUnsupported
 * naming the node and op, and the model is left untouched.
 */
import type { AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/onnxProto';
import { DT, makeInt64Tensor, makeScalarTensor, makeTensor, tensorToFloat32 } from '../onnx/tensor';
import { attr, makeNode, usedNames, type GraphEditor } from './graphEdit';
import { ExportUnsupported } from './pack';

/** Oldest source opset we upgrade from. */
export const MIN_UPGRADE_OPSET = 9;

/**
 * Ops whose changes between opset 9 and 21 need nothing (the opset where each changed, for reading):
 * new types, new attributes or optional inputs whose default is the old behaviour, negative axes or
 * indices that used to be invalid.
 */
const COMPATIBLE = new Set<string>([
  // element-wise and activations (13/14: more types; 12: Pow exponent type; 16: LeakyRelu/PRelu bf16)
  'Abs',
  'Acos',
  'Acosh',
  'Add',
  'And',
  'Asin',
  'Asinh',
  'Atan',
  'Atanh',
  'BitShift',
  'BitwiseAnd',
  'BitwiseNot',
  'BitwiseOr',
  'BitwiseXor',
  'Ceil',
  'Celu',
  'Cos',
  'Cosh',
  'Div',
  'Elu',
  'Equal',
  'Erf',
  'Exp',
  'Floor',
  'Gelu',
  'Greater',
  'GreaterOrEqual',
  'HardSigmoid',
  'HardSwish',
  'IsInf',
  'IsNaN',
  'LeakyRelu',
  'Less',
  'LessOrEqual',
  'Log',
  'Max',
  'Mean',
  'Min',
  'Mish',
  'Mod',
  'Mul',
  'Neg',
  'Not',
  'Or',
  'Pow',
  'PRelu',
  'Reciprocal',
  'Relu',
  'Round',
  'Selu',
  'Shrink',
  'Sigmoid',
  'Sign',
  'Sin',
  'Sinh',
  'Softplus',
  'Softsign',
  'Sqrt',
  'Sub',
  'Sum',
  'Tan',
  'Tanh',
  'ThresholdedRelu',
  'Where',
  'Xor',
  // linear algebra, convolution, pooling (10: MaxPool/AveragePool ceil_mode+dilations default off; 11: Gemm C
  // optional, auto_pad wording; 19: AveragePool dilations default 1)
  'AveragePool',
  'Conv',
  'ConvInteger',
  'ConvTranspose',
  'Det',
  'Einsum',
  'Gemm',
  'GlobalAveragePool',
  'GlobalLpPool',
  'GlobalMaxPool',
  'LpPool',
  'MatMul',
  'MatMulInteger',
  'MaxPool',
  'MaxRoiPool',
  'MaxUnpool',
  'QLinearConv',
  'QLinearMatMul',
  // normalization (BatchNormalization is in REWRITES; 13: LRN/MVN types)
  'InstanceNormalization',
  'LayerNormalization',
  'LpNormalization',
  'LRN',
  'MeanVarianceNormalization',
  // shape and data movement (11: negative axes; 13: Shape/Reshape types; 14: Reshape allowzero=0; 15: Shape start/end;
  // 11: DepthToSpace mode=DCR is the old behaviour; 11: Gather/GatherElements negative indices were invalid before)
  'ArgMax',
  'ArgMin',
  'Cast',
  'CastLike',
  'CenterCropPad',
  'Col2Im',
  'Compress',
  'Concat',
  'ConcatFromSequence',
  'Constant',
  'ConstantOfShape',
  'CumSum',
  'DepthToSpace',
  'Expand',
  'EyeLike',
  'Flatten',
  'Gather',
  'GatherElements',
  'GatherND',
  'Identity',
  'NonZero',
  'Range',
  'Reshape',
  'ReverseSequence',
  'ScatterElements',
  'ScatterND',
  'Shape',
  'Size',
  'SpaceToDepth',
  'Tile',
  'Transpose',
  'Trilu',
  'Unique',
  // quantization (10: per-tensor only, so the axis added at 13 is moot; 19/21: saturate, block_size defaults)
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'QuantizeLinear',
  // control flow and sequences (subgraphs are upgraded too; 11/13/16: more types, optional M/cond)
  'If',
  'Loop',
  'Scan',
  'Optional',
  'OptionalGetElement',
  'OptionalHasElement',
  'SequenceAt',
  'SequenceConstruct',
  'SequenceEmpty',
  'SequenceErase',
  'SequenceInsert',
  'SequenceLength',
  'SequenceMap',
  'SplitToSequence',
  // recurrent (14: layout attribute, default 0 is the old layout)
  'GRU',
  'LSTM',
  'RNN',
  // the rest (random, detection, text, signal, losses, images)
  'AffineGrid',
  'Bernoulli',
  'BlackmanWindow',
  'HammingWindow',
  'HannWindow',
  'ImageDecoder',
  'MelWeightMatrix',
  'Multinomial',
  'NegativeLogLikelihoodLoss',
  'NonMaxSuppression',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'RegexFullMatch',
  'SoftmaxCrossEntropyLoss',
  'STFT',
  'StringConcat',
  'StringNormalizer',
  'StringSplit',
  'TfIdfVectorizer',
  'DeformConv',
]);

/** Where a node is rewritten, with everything needed to rewrite it. */
interface Scope {
  from: number;
  to: number;
  /** Replacement nodes so far (the graph's new node list). */
  out: NodeProto[];
  /** Adds a constant tensor (initializer at top level, Constant node in a subgraph) and returns its name. */
  constant(base: string, make: (name: string) => TensorProto): string;
  unique(base: string): string;
  elemType(name: string): number | undefined;
  rank(name: string): number | undefined;
  constFloats(name: string): Float32Array | undefined;
  /** Whether a node of this graph (or a subgraph), or a graph output, reads `name`. */
  isRead(name: string): boolean;
}

type Rewrite = (n: NodeProto, s: Scope) => NodeProto[];

/**
 * Ops whose signature or meaning changed between opset 9 and 21, the opset of each change, and the
 * rewrite. A rewrite runs when the upgrade crosses its opset (from < at ≤ to).
 */
const REWRITES: Record<string, { at: number; what: string; rewrite: Rewrite }[]> = {
  Slice: [{ at: 10, what: 'starts/ends/axes attributes → inputs', rewrite: sliceToInputs }],
  TopK: [{ at: 10, what: 'k attribute → input', rewrite: (n, s) => [attrsToInputs(n, s, [['k', 1, 'ints1']])] }],
  Upsample: [{ at: 11, what: 'deprecated (10) → Resize-11 (asymmetric, nearest_mode floor)', rewrite: upsampleToResize }],
  Resize: [{ at: 11, what: 'Resize-10 → roi input, asymmetric coordinates, floor/ceil nearest', rewrite: resize10To11 }],
  Pad: [{ at: 11, what: 'pads/value attributes → inputs', rewrite: padToInputs }],
  Clip: [{ at: 11, what: 'min/max attributes → inputs', rewrite: clipToInputs }],
  Scatter: [
    { at: 11, what: 'deprecated → ScatterElements (same meaning)', rewrite: (n) => [{ ...without(n), opType: 'ScatterElements' }] },
  ],
  OneHot: [
    {
      at: 11,
      what: 'negative indices now count from the end (were all-off): refused',
      rewrite: refuse('negative indices changed meaning at opset 11'),
    },
  ],
  Dropout: [{ at: 12, what: 'ratio attribute → input; opset-9 mask type T → bool', rewrite: dropoutToInputs }],
  Softmax: [{ at: 13, what: '2-D coercion at axis → one axis (default 1 → −1)', rewrite: softmaxFamily }],
  LogSoftmax: [{ at: 13, what: '2-D coercion at axis → one axis (default 1 → −1)', rewrite: softmaxFamily }],
  Hardmax: [{ at: 13, what: '2-D coercion at axis → one axis (default 1 → −1)', rewrite: softmaxFamily }],
  Split: [
    { at: 13, what: 'split attribute → input', rewrite: (n, s) => [attrsToInputs(n, s, [['split', 1, 'ints']])] },
    { at: 18, what: 'equal split needs num_outputs', rewrite: splitNumOutputs },
  ],
  Squeeze: [axesToInput(13)],
  Unsqueeze: [axesToInput(13)],
  ReduceSum: [axesToInput(13)],
  ReduceMean: [axesToInput(18)],
  ReduceMax: [axesToInput(18)],
  ReduceMin: [axesToInput(18)],
  ReduceProd: [axesToInput(18)],
  ReduceL1: [axesToInput(18)],
  ReduceL2: [axesToInput(18)],
  ReduceLogSum: [axesToInput(18)],
  ReduceLogSumExp: [axesToInput(18)],
  ReduceSumSquare: [axesToInput(18)],
  BatchNormalization: [{ at: 14, what: 'training outputs removed from inference form', rewrite: batchNormInference }],
  RoiAlign: [{ at: 16, what: 'coordinate_transformation_mode added, default half_pixel (old: output_half_pixel)', rewrite: roiAlignMode }],
  GridSample: [{ at: 20, what: 'modes bilinear/bicubic renamed linear/cubic', rewrite: gridSampleModes }],
  DFT: [
    {
      at: 20,
      what: 'axis attribute (default 1) → input (default −2)',
      rewrite: (n, s) => [attrsToInputs(n, s, [['axis', 2, 'scalar', 1]])],
    },
  ],
  GroupNormalization: [
    {
      at: 21,
      what: 'scale/bias per group → per channel: refused',
      rewrite: refuse('scale and bias changed from per group to per channel at opset 21'),
    },
  ],
};

/** The op table (for docs and tests): op → the opsets at which it is rewritten, or 'compatible'. */
export function opsetUpgradeTable(): Record<string, string> {
  const t: Record<string, string> = {};
  for (const op of [...COMPATIBLE].sort()) t[op] = 'compatible';
  for (const [op, rs] of Object.entries(REWRITES)) t[op] = rs.map((r) => `${r.at}: ${r.what}`).join('; ');
  return t;
}

function isStd(n: NodeProto): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}
function getAttr(n: NodeProto, name: string): AttributeProto | undefined {
  return n.attribute.find((a) => a.name === name);
}
function without(n: NodeProto, ...names: string[]): NodeProto {
  return { ...n, input: n.input.slice(), output: n.output.slice(), attribute: n.attribute.filter((a) => !names.includes(a.name)) };
}
function label(n: NodeProto): string {
  return `op ${n.opType} (node '${n.name ?? ''}')`;
}
function readStr(a: AttributeProto | undefined): string | undefined {
  return a?.s ? new TextDecoder().decode(a.s) : undefined;
}

function refuse(why: string): Rewrite {
  return (n) => {
    throw new ExportUnsupported(`${label(n)}: ${why}`);
  };
}

/**
 * A scalar of `x`'s float type holding `v`: a typed constant when the type is known, else (opset ≥ 15)
 * CastLike of a float32 constant; refused otherwise.
 */
function typedScalar(n: NodeProto, s: Scope, x: string, base: string, v: number): string {
  const t = s.elemType(x);
  if (t === DT.FLOAT || t === DT.FLOAT16 || t === DT.DOUBLE) return s.constant(base, (name) => makeScalarTensor(name, t, v));
  if (t !== undefined) throw new ExportUnsupported(`${label(n)}: input '${x}' has element type ${t}; expected a float type`);
  if (s.to < 15)
    throw new ExportUnsupported(`${label(n)}: the element type of '${x}' is unknown, so ${base} cannot be typed at opset ${s.to}`);
  const f = s.constant(`${base}_f32`, (name) => makeScalarTensor(name, DT.FLOAT, v));
  const out = s.unique(base);
  s.out.push(makeNode('CastLike', [f, x], [out], s.unique(`${n.name || n.opType}_${base}_castlike`)));
  return out;
}

/**
 * Moves attributes to inputs: [attribute, input index, form, default]. `ints` → int64 [n];
 * `ints1` → int64 [1] from an int; `scalar` → int64 [] from an int. Missing attributes without a
 * default leave the input empty.
 */
function attrsToInputs(n: NodeProto, s: Scope, moves: [string, number, 'ints' | 'ints1' | 'scalar', number?][]): NodeProto {
  const m = without(n, ...moves.map((x) => x[0]));
  for (const [name, index, form, dflt] of moves) {
    const a = getAttr(n, name);
    if (!a && dflt === undefined) continue;
    const base = `${n.name || n.opType}_${name}`;
    const v = form === 'ints' ? a!.ints : [a ? (a.i ?? 0) : dflt!];
    const c = s.constant(base, (nm) => (form === 'scalar' ? makeScalarTensor(nm, DT.INT64, v[0]) : makeInt64Tensor(nm, v)));
    while (m.input.length <= index) m.input.push('');
    m.input[index] = c;
  }
  while (m.input.length && m.input[m.input.length - 1] === '') m.input.pop();
  return m;
}

function axesToInput(at: number): { at: number; what: string; rewrite: Rewrite } {
  return { at, what: 'axes attribute → input', rewrite: (n, s) => [attrsToInputs(n, s, [['axes', 1, 'ints']])] };
}

function sliceToInputs(n: NodeProto, s: Scope): NodeProto[] {
  if (!getAttr(n, 'starts') || !getAttr(n, 'ends')) throw new ExportUnsupported(`${label(n)}: Slice-1 without starts/ends`);
  return [
    attrsToInputs(n, s, [
      ['starts', 1, 'ints'],
      ['ends', 2, 'ints'],
      ['axes', 3, 'ints'],
    ]),
  ];
}

function padToInputs(n: NodeProto, s: Scope): NodeProto[] {
  const pads = getAttr(n, 'pads');
  if (!pads) throw new ExportUnsupported(`${label(n)}: Pad-2 without pads`);
  const mode = readStr(getAttr(n, 'mode')) ?? 'constant';
  const value = getAttr(n, 'value')?.f ?? 0;
  const m = without(n, 'pads', 'value');
  m.input = [n.input[0], s.constant(`${n.name || n.opType}_pads`, (nm) => makeInt64Tensor(nm, pads.ints))];
  if (mode === 'constant' && value !== 0) m.input.push(typedScalar(n, s, n.input[0], `${n.name || n.opType}_value`, value));
  return [m];
}

function clipToInputs(n: NodeProto, s: Scope): NodeProto[] {
  const lo = getAttr(n, 'min');
  const hi = getAttr(n, 'max');
  const m = without(n, 'min', 'max');
  m.input = [n.input[0], '', ''];
  if (lo) m.input[1] = typedScalar(n, s, n.input[0], `${n.name || n.opType}_min`, lo.f ?? 0);
  if (hi) m.input[2] = typedScalar(n, s, n.input[0], `${n.name || n.opType}_max`, hi.f ?? 0);
  while (m.input.length > 1 && m.input[m.input.length - 1] === '') m.input.pop();
  return [m];
}

function dropoutToInputs(n: NodeProto, s: Scope): NodeProto[] {
  const mask = n.output[1];
  if (s.from < 10 && mask && s.isRead(mask))
    throw new ExportUnsupported(`${label(n)}: its mask output is read, and its type changed from the input type to bool at opset 10`);
  const ratio = getAttr(n, 'ratio');
  const m = without(n, 'ratio');
  if (ratio) m.input = [n.input[0], s.constant(`${n.name || n.opType}_ratio`, (nm) => makeScalarTensor(nm, DT.FLOAT, ratio.f ?? 0))];
  return [m];
}

/**
 * Before 13, Softmax (LogSoftmax, Hardmax) coerced the input to 2-D [d0·…·d(axis−1), d(axis)·…] and
 * normalized the second dimension; default axis 1. From 13 it normalizes `axis` alone; default −1.
 * Same result when axis is the last dimension; otherwise Flatten(axis) → op(−1) → Reshape(Shape(x)).
 */
function softmaxFamily(n: NodeProto, s: Scope): NodeProto[] {
  const axis = getAttr(n, 'axis')?.i ?? 1;
  const rank = s.rank(n.input[0]);
  const last = axis === -1 || (rank !== undefined && (axis + rank) % rank === rank - 1);
  const m = without(n, 'axis');
  m.attribute.push(attr.int('axis', -1));
  if (last) return [m];
  const base = n.name || n.opType;
  const shape = s.unique(`${base}_shape`);
  const flat = s.unique(`${base}_2d`);
  const y2 = s.unique(`${base}_2d_out`);
  m.input = [flat];
  m.output = [y2];
  const reshapeAttrs = s.to >= 14 ? [attr.int('allowzero', 1)] : [];
  return [
    makeNode('Shape', [n.input[0]], [shape], s.unique(`${base}_Shape`)),
    makeNode('Flatten', [n.input[0]], [flat], s.unique(`${base}_Flatten`), [attr.int('axis', axis)]),
    m,
    makeNode('Reshape', [y2, shape], [n.output[0]], s.unique(`${base}_Reshape`), reshapeAttrs),
  ];
}

function splitNumOutputs(n: NodeProto): NodeProto[] {
  if ((n.input[1] ?? '') !== '' || getAttr(n, 'num_outputs')) return [n];
  const m = without(n);
  m.attribute.push(attr.int('num_outputs', n.output.length));
  return [m];
}

function batchNormInference(n: NodeProto, s: Scope): NodeProto[] {
  if (getAttr(n, 'spatial') && getAttr(n, 'spatial')!.i !== 1) throw new ExportUnsupported(`${label(n)}: spatial=0 is not carried over`);
  const extra = n.output.slice(1).filter((o) => o && s.isRead(o));
  if (extra.length) throw new ExportUnsupported(`${label(n)}: training outputs (${extra.join(', ')}) are read; they changed at opset 14`);
  const m = without(n, 'spatial');
  m.output = [n.output[0]];
  return [m];
}

function roiAlignMode(n: NodeProto): NodeProto[] {
  if (getAttr(n, 'coordinate_transformation_mode')) return [n];
  const m = without(n);
  m.attribute.push(attr.str('coordinate_transformation_mode', 'output_half_pixel'));
  return [m];
}

function gridSampleModes(n: NodeProto): NodeProto[] {
  const mode = readStr(getAttr(n, 'mode'));
  const renamed = mode === 'bilinear' ? 'linear' : mode === 'bicubic' ? 'cubic' : undefined;
  if (!renamed) return [n];
  const m = without(n, 'mode');
  m.attribute.push(attr.str('mode', renamed));
  return [m];
}

/**
 * Upsample-9/10 and Resize-10 map an output index to x_out / scale (asymmetric). Nearest picks
 * floor when upsampling and ceil when downsampling (onnxruntime's opset-10 "simple" mode; Upsample
 * only upsamples). Resize-11+ says the same with coordinate_transformation_mode=asymmetric and
 * nearest_mode floor or ceil; output sizes are floor(in · scale) in both.
 */
function toResize11(n: NodeProto, s: Scope, nearestMode: () => string): NodeProto[] {
  const mode = readStr(getAttr(n, 'mode')) ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'linear') throw new ExportUnsupported(`${label(n)}: mode '${mode}' is not carried over`);
  const m = without(n, 'mode', 'coordinate_transformation_mode', 'nearest_mode');
  m.opType = 'Resize';
  const roi = s.to >= 13 ? '' : s.constant(`${n.name || n.opType}_roi`, (nm) => makeTensor(nm, DT.FLOAT, [0], new Uint8Array(0)));
  m.input = [n.input[0], roi, n.input[1]];
  m.attribute.push(attr.str('mode', mode), attr.str('coordinate_transformation_mode', 'asymmetric'));
  if (mode === 'nearest') m.attribute.push(attr.str('nearest_mode', nearestMode()));
  return [m];
}

function upsampleToResize(n: NodeProto, s: Scope): NodeProto[] {
  return toResize11(n, s, () => 'floor');
}

function resize10To11(n: NodeProto, s: Scope): NodeProto[] {
  return toResize11(n, s, () => {
    const sc = s.constFloats(n.input[1]);
    if (!sc) throw new ExportUnsupported(`${label(n)}: nearest Resize-10 needs constant scales to choose floor or ceil`);
    if (sc.every((v) => v >= 1)) return 'floor';
    if (sc.every((v) => v <= 1)) return 'ceil';
    throw new ExportUnsupported(`${label(n)}: nearest Resize-10 that both up- and downsamples has no opset-11 equivalent`);
  });
}

/** Output type = first input type for these ops (enough to type Clip/Pad constants). */
const SAME_TYPE = new Set([
  'Abs',
  'Add',
  'AveragePool',
  'BatchNormalization',
  'Ceil',
  'Clip',
  'Concat',
  'Conv',
  'ConvTranspose',
  'Div',
  'Dropout',
  'Elu',
  'Exp',
  'Expand',
  'Flatten',
  'Floor',
  'Gather',
  'Gemm',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'HardSigmoid',
  'Identity',
  'InstanceNormalization',
  'LeakyRelu',
  'Log',
  'LRN',
  'LayerNormalization',
  'MatMul',
  'Max',
  'MaxPool',
  'Min',
  'Mul',
  'Neg',
  'Pad',
  'Pow',
  'PRelu',
  'Reciprocal',
  'ReduceMax',
  'ReduceMean',
  'ReduceMin',
  'ReduceSum',
  'Relu',
  'Reshape',
  'Resize',
  'Selu',
  'Sigmoid',
  'Slice',
  'Softmax',
  'LogSoftmax',
  'Softplus',
  'Split',
  'Sqrt',
  'Squeeze',
  'Sub',
  'Sum',
  'Tanh',
  'Tile',
  'Transpose',
  'Unsqueeze',
  'Upsample',
  'DequantizeLinear',
]);

class GraphInfo {
  readonly types = new Map<string, number>();
  readonly ranks = new Map<string, number>();
  readonly consts = new Map<string, TensorProto>();

  constructor(g: GraphProto, outer?: GraphInfo) {
    if (outer) {
      for (const [k, v] of outer.types) this.types.set(k, v);
      for (const [k, v] of outer.ranks) this.ranks.set(k, v);
      for (const [k, v] of outer.consts) this.consts.set(k, v);
    }
    const vi = (v: ValueInfoProto) => {
      if (v.type.elemType) this.types.set(v.name, v.type.elemType);
      if (v.type.dims) this.ranks.set(v.name, v.type.dims.length);
    };
    [...g.input, ...g.valueInfo, ...g.output].forEach(vi);
    for (const t of g.initializer) {
      this.types.set(t.name, t.dataType);
      this.ranks.set(t.name, t.dims.length);
      this.consts.set(t.name, t);
    }
    for (const n of g.node) {
      if (!isStd(n) || !n.output[0]) continue;
      const out = n.output[0];
      if (n.opType === 'Constant') {
        const t = getAttr(n, 'value')?.t;
        if (t) {
          this.types.set(out, t.dataType);
          this.ranks.set(out, t.dims.length);
          this.consts.set(out, t);
        }
      } else if (n.opType === 'Cast') {
        const to = getAttr(n, 'to')?.i;
        if (to !== undefined && !this.types.has(out)) this.types.set(out, to);
      } else if (SAME_TYPE.has(n.opType) && !this.types.has(out)) {
        const t = this.types.get(n.input[0]);
        if (t !== undefined) this.types.set(out, t);
      }
    }
  }
}

/** Everything a graph's rewrite produces, applied only when the whole model can be upgraded. */
interface Planned {
  nodes: NodeProto[];
  changed: boolean;
  initializers: TensorProto[];
}

function planGraph(
  g: GraphProto,
  from: number,
  to: number,
  info: GraphInfo,
  unique: (b: string) => string,
  topLevel: boolean,
  read: Set<string>,
): Planned {
  const planned: Planned = { nodes: [], changed: false, initializers: [] };
  for (const n0 of g.node) {
    let n = n0;
    // Subgraphs first: they see the outer scope.
    if (n.attribute.some((a) => a.g || a.graphs.length)) {
      let subChanged = false;
      const attrs = n.attribute.map((a) => {
        if (!a.g && !a.graphs.length) return a;
        const up = (sg: GraphProto): GraphProto => {
          const p = planGraph(sg, from, to, new GraphInfo(sg, info), unique, false, read);
          if (!p.changed) return sg;
          subChanged = true;
          return { ...sg, node: p.nodes };
        };
        return { ...a, g: a.g ? up(a.g) : a.g, graphs: a.graphs.map(up) };
      });
      if (subChanged) {
        n = { ...n, attribute: attrs };
        planned.changed = true;
      }
    }
    if (!isStd(n)) {
      planned.nodes.push(n);
      continue;
    }
    const rules = (REWRITES[n.opType] ?? []).filter((r) => from < r.at && r.at <= to);
    if (!REWRITES[n.opType] && !COMPATIBLE.has(n.opType))
      throw new ExportUnsupported(`${label(n)} is not known to carry over from opset ${from} to ${to}`);
    if (!rules.length) {
      planned.nodes.push(n);
      continue;
    }
    const scope: Scope = {
      from,
      to,
      out: [],
      unique,
      rank: (x) => info.ranks.get(x),
      elemType: (x) => info.types.get(x),
      isRead: (x) => read.has(x),
      constFloats: (x) => {
        const t = info.consts.get(x);
        return t && (t.dataType === DT.FLOAT || t.dataType === DT.FLOAT16 || t.dataType === DT.DOUBLE)
          ? tensorToFloat32({ dir: '', file: 'model' }, t)
          : undefined;
      },
      constant: (base, make) => {
        const name = unique(base);
        const t = make(name);
        if (topLevel) planned.initializers.push(t);
        else scope.out.push(makeNode('Constant', [], [name], unique(`${name}_Constant`), [attr.tensor('value', t)]));
        return name;
      },
    };
    let cur = [n];
    for (const r of rules) cur = cur.flatMap((x) => (x.opType === n.opType ? r.rewrite(x, scope) : [x]));
    planned.nodes.push(...scope.out, ...cur);
    planned.changed = true;
  }
  return planned;
}

/** Current default-domain opset of the edited model. */
export function currentOpset(ed: GraphEditor): number {
  return ed.model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/**
 * Upgrades the edited model's default opset to at least `to`. Throws ExportUnsupported (with the
 * reason, naming the node) when it cannot be done safely; the model is then left as it was.
 */
export function upgradeOpset(ed: GraphEditor, to: number): void {
  const from = currentOpset(ed);
  if (from >= to) return;
  if (from < MIN_UPGRADE_OPSET)
    throw new ExportUnsupported(
      `QDQ needs opset ${to} but the model is opset ${from}; upgrading from below ${MIN_UPGRADE_OPSET} is not supported`,
    );
  const taken = new Set<string>();
  const collect = (g: GraphProto): void => {
    for (const n of g.node) {
      n.output.forEach((o) => taken.add(o));
      if (n.name) taken.add(n.name);
      for (const a of n.attribute) {
        if (a.g) collect(a.g);
        a.graphs.forEach(collect);
      }
    }
    g.initializer.forEach((t) => taken.add(t.name));
    g.input.forEach((v) => taken.add(v.name));
  };
  collect(ed.graph);
  const unique = (base: string): string => {
    for (;;) {
      const nm = ed.unique(base);
      if (!taken.has(nm)) {
        taken.add(nm);
        return nm;
      }
    }
  };
  let plan: Planned;
  try {
    plan = planGraph(ed.graph, from, to, new GraphInfo(ed.graph), unique, true, usedNames(ed.graph));
  } catch (e) {
    if (e instanceof ExportUnsupported) throw new ExportUnsupported(`QDQ needs opset ${to} but the model is opset ${from}; ${e.message}`);
    throw e;
  }
  if (plan.changed) ed.graph.node = plan.nodes;
  plan.initializers.forEach((t) => ed.addInitializer(t));
  ed.requireOpset('', to);
  // IR 3 wanted every initializer listed as a graph input; the tensors added above are not.
  if (ed.model.irVersion !== undefined && ed.model.irVersion < 4) ed.model.irVersion = 4;
}
