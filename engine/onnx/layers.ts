/**
 * Layer discovery: MatMul with a constant B (W = Bᵀ), Gemm (transB), Conv (W reshaped to
 * O × I/g·kh·kw), ConvTranspose (W [I, O/g, k…] viewed as O·k × I/g, see {@link convTransposeToMatrix}).
 * Other ops that carry a float weight are listed as not quantizable, with a reason.
 */
import type { LayerInfo } from '../../protocol/model';
import type { GraphProto, NodeProto } from './onnxProto';
import { ConstResolver, isPassThrough, type ConstRef } from './constants';
import { applyReadableNames } from './layerNames';
import { DT } from './tensor';

/** A discovered layer plus what the engine needs to read and rewrite it. */
export interface LayerRecord extends LayerInfo {
  nodeRef: NodeProto;
  /** Index of the weight among the consumer's inputs. */
  weightInput: number;
  ref: ConstRef;
  /** Name of the activation tensor that feeds the layer. */
  input: string;
  /** For a layer inside a subgraph: the (node, graph attribute) steps from the main graph to it. */
  scope?: { node: NodeProto; attr: string }[];
}

/** Other ops whose float constants are weights worth listing (as not quantizable). */
const WEIGHT_OPS = new Set(['Gather', 'Einsum', 'MatMulInteger', 'ConvInteger']);

/** Recurrent ops: W (input 1, [dirs, gates·H, I]) and R (input 2, [dirs, gates·H, H]) are layers. */
export const RECURRENT_OPS = new Set(['LSTM', 'GRU', 'RNN']);

/** Constant inputs of com.microsoft ops that are tables, not weights (rotary cos/sin caches). */
const TABLE_INPUTS: Record<string, number[]> = { RotaryEmbedding: [2, 3], GroupQueryAttention: [7, 8] };

function attrI(n: NodeProto, name: string, dflt: number): number {
  return n.attribute.find((a) => a.name === name)?.i ?? dflt;
}

function isFloat(t: number): boolean {
  return t === DT.FLOAT || t === DT.FLOAT16;
}

/** Rotary position caches exporters store as Gather tables (`rotary_emb.cos_cached`, `freqs_sin`, …): computed, not learned. */
export const isRotaryCache = (name: string): boolean =>
  /rotary|rope|freqs|inv_freq|(^|[._/])(cos|sin)(_cached|_cache)?([._/]|$)/i.test(name);

/** A Gather table and a MatMul/Gemm head reading the same [vocab, hidden] matrix (W = the table). */
function isTiedPair(a: LayerRecord, b: LayerRecord): boolean {
  const head = a.embedding ? b : a,
    table = a.embedding ? a : b;
  return (
    Boolean(table.embedding) &&
    !head.embedding &&
    (head.op === 'MatMul' || head.op === 'Gemm') &&
    head.shape[0] === table.shape[0] &&
    head.shape[1] === table.shape[1]
  );
}

/** Finds every layer of `graph` (top level only; subgraphs are left as they are). */
export function discoverLayers(
  graph: GraphProto,
  consts: ConstResolver,
  place = '',
  scope: { node: NodeProto; attr: string }[] = [],
): LayerRecord[] {
  const out: LayerRecord[] = [];
  const seen = new Map<string, LayerRecord>();
  graph.node.forEach((n, idx) => {
    if (isPassThrough(n) || n.opType === 'Constant') return;
    const std = !n.domain || n.domain === 'ai.onnx';
    n.input.forEach((inp, k) => {
      if (!inp) return;
      if (n.domain === 'com.microsoft' && TABLE_INPUTS[n.opType]?.includes(k)) return;
      const ref = consts.resolve(inp);
      if (!ref || !isFloat(ref.stored.dataType)) return;
      const mk = (over: Partial<LayerRecord> & { shape: [number, number]; quantizable: boolean }): LayerRecord => {
        const rec: LayerRecord = {
          name: `${place}${ref.source}`,
          op: n.opType,
          node: n.name || `${n.opType}_${idx}`,
          dims: ref.stored.dims.slice(),
          params: ref.dims.reduce((a, b) => a * b, 1),
          dtype: ref.stored.dataType === DT.FLOAT16 ? 'float16' : 'float32',
          nodeRef: n,
          weightInput: k,
          ref,
          input: n.input[0] ?? '',
          ...over,
        };
        if (!rec.quantizable && rec.reason === undefined) rec.reason = 'not quantizable';
        if (scope.length) {
          rec.scope = scope;
          rec.subgraph = place.slice(0, -1);
        }
        return rec;
      };
      let rec: LayerRecord | undefined;
      const d = ref.dims;
      if (std && n.opType === 'MatMul') {
        if (k !== 1)
          rec = mk({
            shape: [d[d.length - 1] ?? 1, d[d.length - 2] ?? 1],
            quantizable: false,
            reason: 'the constant is the left operand of MatMul',
          });
        else if (d.length !== 2)
          rec = mk({
            shape: [d[d.length - 1] ?? 1, d[d.length - 2] ?? 1],
            quantizable: false,
            reason: `MatMul weight has rank ${d.length}; only 2-D weights are quantized`,
          });
        else rec = mk({ shape: [d[1], d[0]], quantizable: true });
      } else if (std && n.opType === 'Gemm') {
        const transB = attrI(n, 'transB', 0);
        const shape: [number, number] = d.length === 2 ? (transB ? [d[0], d[1]] : [d[1], d[0]]) : [0, 0];
        if (k === 2) return; // bias
        if (k !== 1) rec = mk({ shape, quantizable: false, reason: 'the constant is operand A of Gemm' });
        else if (attrI(n, 'transA', 0)) rec = mk({ shape, quantizable: false, reason: 'Gemm with transA=1 is not supported' });
        else rec = mk({ shape, quantizable: true });
      } else if (std && n.opType === 'Conv') {
        if (k !== 1) return;
        const inner = d.slice(1).reduce((a, b) => a * b, 1);
        rec = mk({ shape: [d[0], inner], quantizable: d.length >= 3 });
        if (!rec.quantizable) rec.reason = `Conv weight has rank ${d.length}`;
      } else if (std && n.opType === 'ConvTranspose') {
        if (k !== 1) return;
        const group = attrI(n, 'group', 1);
        const kernel = d.slice(2).reduce((a, b) => a * b, 1);
        // rows = (O/g)·k per group, all groups stacked = O·k; cols = I/g (see convTransposeToMatrix).
        const cols = group > 0 ? Math.floor((d[0] ?? 0) / group) : 0;
        rec = mk({ shape: [group * (d[1] ?? 0) * kernel, cols], quantizable: d.length >= 3 && group > 0 && d[0] % group === 0 });
        if (!rec.quantizable)
          rec.reason =
            d.length < 3 ? `ConvTranspose weight has rank ${d.length}` : `ConvTranspose weight [${d}] does not split into group=${group}`;
      } else if (std && n.opType === 'Gather' && k === 0 && d.length === 2 && attrI(n, 'axis', 0) === 0 && isRotaryCache(ref.source)) {
        rec = mk({ shape: [d[0], d[1]], quantizable: false, reason: 'rotary cos/sin cache (Gather by position), not a learned table' });
      } else if (std && n.opType === 'Gather' && k === 0 && d.length === 2 && attrI(n, 'axis', 0) === 0) {
        // An embedding table [vocab, hidden]: rows are looked up, groups run along the hidden axis.
        rec = mk({ shape: [d[0], d[1]], quantizable: true, embedding: true, input: n.input[1] ?? '' });
      } else if (std && RECURRENT_OPS.has(n.opType)) {
        if (k !== 1 && k !== 2) return; // B (bias), sequence lengths, initial states
        // One row per (direction, gate, hidden unit): the matrix is the stored tensor, row-major.
        rec = mk({ shape: [(d[0] ?? 0) * (d[1] ?? 0), d[2] ?? 0], quantizable: d.length === 3 });
        if (!rec.quantizable) rec.reason = `${n.opType} ${k === 1 ? 'W' : 'R'} has rank ${d.length}`;
        else
          rec.dataFree =
            k === 1
              ? `${n.opType} W is applied to every time step inside the op; calibration collects no Hessian for it`
              : `${n.opType} R is applied to the recurrent hidden state, which calibration cannot observe`;
      } else if (d.length >= 2 && (WEIGHT_OPS.has(n.opType) || !std)) {
        const reason =
          n.opType === 'Gather'
            ? 'embedding lookup (Gather), not a matrix multiplication'
            : `${n.domain ? n.domain + '.' : ''}${n.opType} is not a MatMul/Gemm/Conv`;
        rec = mk({ shape: [d[0], d.slice(1).reduce((a, b) => a * b, 1)], quantizable: false, reason });
      }
      if (!rec) return;
      const prev = seen.get(rec.name);
      if (prev && prev.quantizable && rec.quantizable && !prev.tiedWith && isTiedPair(prev, rec)) {
        // One table read by a Gather and by a MatMul/Gemm head (tied embeddings): both are layers.
        rec.name = `${rec.name}@${rec.node}`;
        rec.tiedWith = prev.name;
        prev.tiedWith = rec.name;
      } else if (prev && !prev.quantizable && rec.quantizable) {
        prev.name = `${prev.name}@${prev.node}`;
        seen.set(rec.name, rec);
      } else if (prev) {
        rec.name = `${rec.name}@${rec.node}`;
        if (rec.quantizable) {
          rec.quantizable = false;
          rec.reason = `shares its weight with layer '${prev.name}' (node ${prev.node})`;
        }
      } else seen.set(rec.name, rec);
      if (rec.scope && rec.quantizable && rec.dataFree === undefined)
        rec.dataFree = `inside ${rec.subgraph}: calibration cannot observe tensors inside subgraphs`;
      out.push(rec);
    });
  });
  // If branches, Loop and Scan bodies: their layers are named by their place (`If_0/then_branch/w`).
  graph.node.forEach((n, idx) => {
    for (const a of n.attribute) {
      const subs = a.g ? [a.g] : a.graphs;
      if (subs.length !== 1) continue; // GRAPHS attributes (lists) hold no standard op's body
      const sub = subs[0];
      const where = `${place}${n.name || `${n.opType}_${idx}`}/${a.name}/`;
      out.push(...discoverLayers(sub, new ConstResolver(sub, consts.src, consts), where, [...scope, { node: n, attr: a.name }]));
    }
  });
  const uses = new Map<string, number>();
  for (const r of out) uses.set(r.ref.source, (uses.get(r.ref.source) ?? 0) + 1);
  applyReadableNames(out, (r) => r.name === r.ref.source && uses.get(r.ref.source) === 1);
  return out;
}

/**
 * ConvTranspose weight layout. The stored weight is [I, O/g, k…] (k = the kernel's spatial dims);
 * each input pixel's channel vector x[I/g] of group G maps linearly to (O/g)·k values before the
 * overlapping col2im sum, so the matrix the quantizer sees is, per group, the transpose of the
 * stored [I/g, (O/g)·k] block: row (G·(O/g) + o)·k + kidx, column i ↔ stored [G·(I/g) + i, o, kidx].
 * Rows are ordered like the output channels; the columns (one input channel of the group) are
 * shared by all groups, as for grouped Conv.
 */
export interface ConvTransposeLayout {
  group: number;
  /** Input channels per group (the matrix's cols). */
  inPerGroup: number;
  /** Rows per group: (O/g)·k. */
  rowsPerGroup: number;
}

/** The {@link ConvTransposeLayout} of a ConvTranspose layer record. */
export function convTransposeLayout(l: Pick<LayerRecord, 'nodeRef' | 'ref'>): ConvTransposeLayout {
  const d = l.ref.dims;
  const group = attrI(l.nodeRef, 'group', 1);
  return { group, inPerGroup: d[0] / group, rowsPerGroup: d.slice(1).reduce((a, b) => a * b, 1) };
}

/** Transposes each group's block: [I/g, (O/g)·k] (stored) ↔ [(O/g)·k, I/g] (matrix). */
function transposeGroups<T extends Float32Array | Uint8Array>(src: T, t: ConvTransposeLayout, toMatrix: boolean): T {
  const out = new (src.constructor as { new (n: number): T })(src.length);
  const { group, inPerGroup: ci, rowsPerGroup: rg } = t;
  for (let g = 0; g < group; g++) {
    const base = g * ci * rg;
    for (let i = 0; i < ci; i++)
      for (let r = 0; r < rg; r++) {
        const stored = base + i * rg + r,
          matrix = base + r * ci + i;
        if (toMatrix) out[matrix] = src[stored];
        else out[stored] = src[matrix];
      }
  }
  return out;
}

/** Stored ConvTranspose values [I, O/g, k…] → the [rows, cols] matrix (works for codes too). */
export function convTransposeToMatrix<T extends Float32Array | Uint8Array>(stored: T, t: ConvTransposeLayout): T {
  return transposeGroups(stored, t, true);
}

/** The [rows, cols] matrix → stored ConvTranspose layout [I, O/g, k…] (inverse of convTransposeToMatrix). */
export function matrixToConvTranspose<T extends Float32Array | Uint8Array>(w: T, t: ConvTransposeLayout): T {
  return transposeGroups(w, t, false);
}

/** Public view of a record (drops the engine-internal fields). */
export function toLayerInfo(r: LayerRecord): LayerInfo {
  const info: LayerInfo = {
    name: r.name,
    op: r.op,
    node: r.node,
    shape: r.shape,
    dims: r.dims,
    params: r.params,
    dtype: r.dtype,
    quantizable: r.quantizable,
  };
  if (r.reason !== undefined) info.reason = r.reason;
  if (r.embedding) info.embedding = true;
  if (r.tiedWith !== undefined) info.tiedWith = r.tiedWith;
  if (r.dataFree !== undefined) info.dataFree = r.dataFree;
  if (r.subgraph !== undefined) info.subgraph = r.subgraph;
  return info;
}
