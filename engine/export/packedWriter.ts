/**
 * The `packed` format writer: a layer's weight becomes bit-plane uint8 initializers plus fp16 (fp32
 * when not exactly representable) per-(row, group) parameters, and a decode subgraph of standard ONNX
 * ops (opset 11: BitShift, Range, Gather, MatMul, Where, CumSum, Cast…) that rebuilds the float
 * weight in front of the consumer. Every input of the subgraph is an initializer, so onnxruntime
 * constant-folds it at session load: the file holds the compact form, the running session the
 * decoded float weight (as with fake-quant). The arithmetic is float64 with one rounding to float32,
 * exactly as `decodePacked` (packedForm.ts), which the writer checks against the dequantized weight.
 */
import type { AttributeProto, NodeProto, TensorProto } from '../onnx/onnxProto';
import { encodeGraph } from '../onnx/onnxProto';
import { DT, isHalfExact, makeFloatTensor, makeInt64Tensor, makeScalarTensor, makeTensor } from '../onnx/tensor';
import { attr, type GraphEditor } from './graphEdit';
import { storedTransposed, type LayerCtx } from './layout';
import { currentOpset, upgradeOpset } from './opsetUpgrade';
import { ExportUnsupported, normalizeQuant } from './pack';
import {
  decodePacked,
  packBinary,
  packGrid,
  packPlanes,
  packNmSparseGrid,
  packSparseGrid,
  patternTable,
  sparsePayloadBits,
  type Field,
  type NmSparseGridPacked,
  type PackedLayer,
  type ParamTable,
} from './packedForm';
import type { ExportOptions, LayerResult } from './types';

const OPSET = 11;

/** What all packed layers of one export share: constants and constant-only nodes, by content. */
interface Pool {
  names: Map<string, string>;
  next: number;
}
const pools = new WeakMap<GraphEditor, Pool>();

/**
 * Collects one layer's decode nodes and initializers (to insert them together and count their bytes).
 * Intermediate tensors get short names: on a small layer the decode graph's strings are a visible
 * part of the stored bits.
 */
class Decoder {
  readonly nodes: NodeProto[] = [];
  /** Nodes shared with later layers; they go to the top of the graph (their inputs are initializers). */
  readonly head: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private readonly pool: Pool;

  constructor(private readonly ctx: LayerCtx) {
    const p = pools.get(ctx.ed) ?? { names: new Map<string, string>(), next: 0 };
    pools.set(ctx.ed, p);
    this.pool = p;
  }

  private tmp(): string {
    return this.ctx.ed.unique(`~${(this.pool.next++).toString(36)}`);
  }

  op(type: string, inputs: string[], attrs: AttributeProto[] = [], out?: string, into = this.nodes): string {
    const o = out ?? this.tmp();
    into.push({ opType: type, input: inputs, output: [o], attribute: attrs, unknown: [] });
    return o;
  }

  init(tag: string, make: (name: string) => TensorProto): string {
    const t = make(this.ctx.ed.unique(`${this.ctx.l.name}/${tag}`));
    this.inits.push(t);
    return t.name;
  }

  /** A constant shared across layers, created (and counted) by the first layer that needs it. */
  shared(key: string, make: (name: string) => TensorProto, label = key): string {
    let n = this.pool.names.get(key);
    if (!n) {
      n = this.ctx.ed.unique(`~${label}`);
      this.inits.push(make(n));
      this.pool.names.set(key, n);
    }
    return n;
  }

  /** The output of a constant-only computation shared across layers (built once, at the top of the graph). */
  sharedOp(key: string, build: (op: (type: string, inputs: string[]) => string) => string): string {
    let n = this.pool.names.get(key);
    if (!n) {
      n = build((type, inputs) => this.op(type, inputs, [], undefined, this.head));
      this.pool.names.set(key, n);
    }
    return n;
  }

  shape(v: number[]): string {
    return this.shared(`s${v.join('x')}`, (n) => makeInt64Tensor(n, v));
  }
  i64(v: number): string {
    return this.shared(`i${v}`, (n) => makeScalarTensor(n, DT.INT64, v));
  }
  cast(x: string, to: number): string {
    return this.op('Cast', [x], [attr.int('to', to)]);
  }

  /** A field as a float tensor of the given shape (values are small integers, exact). */
  field(f: Field, shape: number[]): string {
    const count = f.values.length;
    let x: string;
    if (f.bits === 8)
      x = this.cast(
        this.init('codes', (n) => makeTensor(n, DT.UINT8, [count], f.values)),
        DT.FLOAT,
      );
    else {
      const nb = Math.ceil(count / 8);
      const planes = this.init(`bits${f.bits}`, (n) => makeTensor(n, DT.UINT8, [f.bits, nb, 1], packPlanes(f)));
      // (byte << (7 − j)) >> 7 (uint8 arithmetic) = bit j.
      const shl = this.shared('shl', (n) => makeTensor(n, DT.UINT8, [8], Uint8Array.from([7, 6, 5, 4, 3, 2, 1, 0])));
      const seven = this.shared('shr', (n) => makeTensor(n, DT.UINT8, [1], Uint8Array.from([7])));
      x = this.op('BitShift', [planes, shl], [attr.str('direction', 'LEFT')]);
      x = this.op('BitShift', [x, seven], [attr.str('direction', 'RIGHT')]);
      x = this.op('Reshape', [x, this.shape([f.bits, nb * 8])]);
      if (nb * 8 !== count) x = this.op('Slice', [x, this.shape([0]), this.shape([count]), this.shape([1])]);
      x = this.cast(x, DT.FLOAT);
      if (f.bits > 1) {
        const pow = this.shared(`pow${f.bits}`, (n) =>
          makeFloatTensor(
            n,
            [1, f.bits],
            Float32Array.from({ length: f.bits }, (_, p) => 2 ** p),
          ),
        );
        x = this.op('MatMul', [pow, x]);
      }
    }
    return this.op('Reshape', [x, this.shape(shape)]);
  }

  /** A parameter table as a float64 tensor [rows·nGroups, k] (fp16, fp32 or uint8 on disk). */
  params(t: ParamTable, tag: string): string {
    const dims = [t.data.length / t.k, t.k];
    const integer = t.data.every((v) => Number.isInteger(v) && v >= 0 && v <= 255);
    const stored = this.init(tag, (n) =>
      integer
        ? makeTensor(n, DT.UINT8, dims, Uint8Array.from(t.data))
        : makeFloatTensor(n, dims, t.data, isHalfExact(t.data) ? DT.FLOAT16 : DT.FLOAT),
    );
    return this.cast(stored, DT.DOUBLE);
  }

  /** int64 [rows, cols]: index of each weight's (row, group) in a rows × nGroups table. */
  groupIndex(rows: number, cols: number, group: number): string {
    const ng = Math.ceil(cols / group);
    return this.sharedOp(`gidx_${rows}x${cols}/${group}`, (op) => {
      const rowBase = op('Reshape', [op('Range', [this.i64(0), this.i64(rows * ng), this.i64(ng)]), this.shape([rows, 1])]);
      const col = op('Div', [op('Range', [this.i64(0), this.i64(cols), this.i64(1)]), this.i64(group)]);
      return op('Add', [rowBase, col]);
    });
  }

  /** Per-weight value of a k = 1 table, float64 [rows, cols]. */
  lookup(t: ParamTable, tag: string, gidx: string): string {
    return this.op('Gather', [this.op('Reshape', [this.params(t, tag), this.shape([-1])]), gidx]);
  }

  /** Σⱼ lut[idx][j]·P[r, g, j] as levels per (row, group), then one Gather per weight; float64 [rows, cols]. */
  lut(lut: number[][], t: ParamTable, idx: string, gidx: string): string {
    const L = lut.length;
    const lutT = Float64Array.from({ length: t.k * L }, (_, i) => lut[i % L][Math.floor(i / L)]);
    const lt = this.shared(
      `lut${lut.map((r) => r.join(',')).join(';')}`,
      (n) => makeTensor(n, DT.DOUBLE, [t.k, L], new Uint8Array(lutT.buffer)),
      'lut',
    );
    const levels = this.op('Reshape', [this.op('MatMul', [this.params(t, 'params'), lt]), this.shape([-1])]);
    const flat = this.op('Add', [this.op('Mul', [gidx, this.i64(L)]), idx]);
    return this.op('Gather', [levels, flat]);
  }
}

/** (q − z)·s; `q` defaults to the dense codes. */
function gridValue(d: Decoder, p: Extract<PackedLayer, { kind: 'grid' | 'sparse' | 'nm' }>, gidx: string, codes?: string): string {
  const q = codes ?? d.cast(d.field(p.codes, [p.rows, p.cols]), DT.DOUBLE);
  const z =
    typeof p.zeros === 'number'
      ? d.shared(`d${p.zeros}`, (n) => makeScalarTensor(n, DT.DOUBLE, p.zeros as number))
      : d.lookup(p.zeros, 'zeros', gidx);
  return d.op('Mul', [d.op('Sub', [q, z]), d.lookup(p.scales, 'scales', gidx)]);
}

/**
 * What the index-code decode (pattern planes' MatMul, Cast, Gather, Reshape, Cast) typically stores
 * beyond the bitmap's, per layer: 47–200 B measured on stories260K's layers (the spread is shape
 * constants that whichever layer needs first creates; test/integration/engine/sparsePacked.test.ts). The
 * shared pattern table (C(m, keep)·m bytes, once a model) is not counted.
 */
export const INDEX_DECODE_EXTRA_BYTES = 120;

/** int64 [rows·cols] keep flags of an N:M layer: each group's pattern code looked up in the C(m, keep) × m table. */
function nmKeep(d: Decoder, p: NmSparseGridPacked): string {
  const masks = patternTable(p.m, p.keep);
  const flags = Uint8Array.from(masks.flatMap((mask) => Array.from({ length: p.m }, (_, j) => (mask >> j) & 1)));
  const table = d.shared(`nm${p.keep}:${p.m}`, (n) => makeTensor(n, DT.UINT8, [masks.length, p.m], flags), 'nm');
  const idx = d.cast(d.field(p.patterns, [p.patterns.values.length]), DT.INT64);
  return d.cast(d.op('Reshape', [d.op('Gather', [table, idx]), d.shape([p.rows * p.cols])]), DT.INT64);
}

function decodeGraph(d: Decoder, p: PackedLayer): string {
  const { rows, cols } = p;
  if (p.kind === 'grid') return gridValue(d, p, d.groupIndex(rows, cols, p.scales.group));
  if (p.kind === 'sparse' || p.kind === 'nm') {
    // Codes are stored for the kept weights only: an exclusive int64 CumSum over the keep flags (the
    // bitmap, or the N:M pattern codes expanded through their table) gives each kept weight its slot
    // (a pruned one points at the next kept code or the pad, and is masked to 0).
    const n = rows * cols;
    const m = p.kind === 'nm' ? nmKeep(d, p) : d.cast(d.field(p.keep, [n]), DT.INT64);
    const slot = d.op('Reshape', [d.op('CumSum', [m, d.i64(0)], [attr.int('exclusive', 1)]), d.shape([rows, cols])]);
    const q = d.cast(d.op('Gather', [d.field(p.codes, [p.codes.values.length]), slot]), DT.DOUBLE);
    const v = gridValue(d, p, d.groupIndex(rows, cols, p.scales.group), q);
    const kept = d.cast(d.op('Reshape', [m, d.shape([rows, cols])]), 9 /* BOOL */);
    return d.op('Where', [kept, v, d.shared('d0', (nm) => makeScalarTensor(nm, DT.DOUBLE, 0))]);
  }
  if (p.kind === 'lut') {
    const gidx = d.groupIndex(rows, cols, p.params.group);
    let idx = d.field(p.codes, [rows, cols]);
    if (p.colCodes)
      idx = d.op('Add', [
        idx,
        d.op('Mul', [
          d.field(p.colCodes, [cols]),
          d.shared(`f${2 ** p.codes.bits}`, (n) => makeFloatTensor(n, [], Float32Array.of(2 ** p.codes.bits))),
        ]),
      ]);
    return d.lut(p.lut, p.params, d.cast(idx, DT.INT64), gidx);
  }
  // PB-LLM: signs / codes are stored only for their entries. An exclusive int64 CumSum over the mask
  // gives each entry its slot (the entries of the other kind point at most one past the end: the pad).
  const gidx = d.groupIndex(rows, cols, p.bin.group);
  const n = rows * cols;
  const m = d.cast(d.field(p.mask, [n]), DT.INT64);
  const slot = (mask: string) => d.op('Reshape', [d.op('CumSum', [mask, d.i64(0)], [attr.int('exclusive', 1)]), d.shape([rows, cols])]);
  const sign = d.op('Gather', [d.field(p.signs, [p.signs.values.length]), slot(m)]);
  const bin = d.lut(
    [
      [-1, 1],
      [1, 1],
    ],
    p.bin,
    d.cast(sign, DT.INT64),
    gidx,
  );
  const code = d.cast(d.op('Gather', [d.field(p.codes, [p.codes.values.length]), slot(d.op('Sub', [d.i64(1), m]))]), DT.DOUBLE);
  const q8 = d.op('Mul', [d.op('Sub', [code, d.lookup(p.zeros, 'zeros', gidx)]), d.lookup(p.scales, 'scales', gidx)]);
  const isBin = d.cast(d.op('Reshape', [m, d.shape([rows, cols])]), 9 /* BOOL */);
  return d.op('Where', [isBin, bin, q8]);
}

/**
 * Writes `p` as the consumer's weight. Checks the decode against `dequant` first (an Error when
 * they disagree: the kernel's stored form is inconsistent). Throws ExportUnsupported, before any
 * change, for consumers or models it cannot serve. Returns the bytes of the layer's stored form
 * (initializers, decode nodes and constants it was first to need).
 */
export function writePacked(ctx: LayerCtx, p: PackedLayer, dequant: Float32Array): number {
  const { l, node, ed } = ctx;
  if (l.op !== 'MatMul' && l.op !== 'Gemm' && l.op !== 'Conv')
    throw new ExportUnsupported(`packed stores MatMul, Gemm and Conv weights, not ${l.op}; written as fake-quant`);
  const dec = decodePacked(p);
  let amax = 0;
  for (const v of dequant) amax = Math.max(amax, Math.abs(v));
  for (let i = 0; i < dec.length; i++) {
    if (!(Math.abs(dec[i] - dequant[i]) <= 1e-5 * amax + 1e-7))
      throw new Error(
        `layer '${l.name}': packed form decodes to ${dec[i]} at [${Math.floor(i / p.cols)}, ${i % p.cols}] but the dequantized weight is ${dequant[i]}`,
      );
  }
  try {
    upgradeOpset(ed, Math.max(OPSET, currentOpset(ed)));
  } catch (e) {
    if (e instanceof ExportUnsupported)
      throw new ExportUnsupported(`packed decoding needs opset ${OPSET}: ${e.message}; written as fake-quant`);
    throw e;
  }
  const d = new Decoder(ctx);
  // float64 → float32 (→ float16) → the consumer's layout; the last step writes ctx.weightName.
  const steps: ((x: string, out?: string) => string)[] = [(x, out) => d.op('Cast', [x], [attr.int('to', DT.FLOAT)], out)];
  if (ctx.dtype === DT.FLOAT16) steps.push((x, out) => d.op('Cast', [x], [attr.int('to', DT.FLOAT16)], out));
  if (storedTransposed(l)) steps.push((x, out) => d.op('Transpose', [x], [attr.ints('perm', [1, 0])], out));
  else if (l.op === 'Conv') steps.push((x, out) => d.op('Reshape', [x, d.shape(l.ref.dims)], [], out));
  let w = decodeGraph(d, p);
  steps.forEach((step, i) => {
    w = step(w, i === steps.length - 1 ? ctx.weightName : undefined);
  });
  for (const t of d.inits) ed.addInitializer(t);
  if (d.head.length) ed.insertBefore(ed.graph.node[0], ...d.head);
  ed.insertBefore(node, ...d.nodes);
  node.input[l.weightInput] = ctx.weightName;
  return encodeGraph({
    ...ed.graph,
    node: [...d.head, ...d.nodes],
    initializer: d.inits,
    input: [],
    output: [],
    valueInfo: [],
    unknown: [],
  }).length;
}

/**
 * A layer result in the packed format: its binarized form, or its integer codes at their real bit
 * width. Throws ExportUnsupported when it has neither. A low-rank correction on a consumer without a
 * branch never gets here: exportModel folds it into a fake-quant weight.
 */
export function writePackedResult(
  ctx: LayerCtx,
  res: LayerResult,
  choose: ExportOptions['sparseForm'] = 'smaller',
): { bytes: number; sparseForm?: 'bitmap' | 'index' } {
  const [rows, cols] = ctx.l.shape;
  // Read once: in a streamed job `dequant` is a getter that recomputes the fp32 weight (stream/releaseDequant.ts).
  const dequant = res.dequant;
  if (res.binary) return { bytes: writePacked(ctx, packBinary(res.binary, rows, cols, dequant), dequant) };
  if (!res.q) throw new ExportUnsupported('no stored form (neither integer codes nor binary planes); written as fake-quant');
  const nq = normalizeQuant(ctx.l.name, res.q, dequant);
  if (!res.sparse) return { bytes: writePacked(ctx, packGrid(nq), dequant) };
  // N:M layers: index (pattern) codes or the bitmap, whichever is smaller with its decode nodes (the
  // bitmap drops the codes of kept weights that rounded to 0; index codes decode with a few more nodes).
  const bitmap = packSparseGrid(nq, dequant);
  const index = res.nm ? packNmSparseGrid(ctx.l.name, nq, dequant, res.nm.n, res.nm.m) : undefined;
  const smaller = (i: NmSparseGridPacked) => sparsePayloadBits(i) + 8 * INDEX_DECODE_EXTRA_BYTES < sparsePayloadBits(bitmap);
  const p = index && (choose === 'index' || (choose === 'smaller' && smaller(index))) ? index : bitmap;
  return { bytes: writePacked(ctx, p, dequant), sparseForm: p === index ? 'index' : 'bitmap' };
}
