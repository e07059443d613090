/**
 * Writes a compressed model: MatMulNBits, QDQ (DequantizeLinear → MatMul/Gemm/Conv), packed (bit
 * planes + a decode subgraph, packedWriter.ts; also binarized layers under matmulnbits/qdq) or fake-quant
 * weights, plus low-rank branches (x·Rᵀ)·Lᵀ and explicit input-scale Muls. Layers that cannot be
 * written in the asked format fall back to fake-quant, with a note saying why.
 */
import { inlineExternalData, type OnnxModel } from '../onnx/model';
import { encodeModel } from '../onnx/onnxProto';
import { DT, isHalfExact, makeFloatTensor } from '../onnx/tensor';
import { GraphEditor, attr, makeNode } from './graphEdit';
import { ExportUnsupported, normalizeQuant } from './pack';
import { writeGatherBlockQuantized, writeMatMulNBits, writeQdq, type SharedTable } from './writers';
import { writePackedResult } from './packedWriter';
import { storedTransposed, transpose2d, type LayerCtx } from './layout';
import { RECURRENT_OPS, convTransposeLayout, matrixToConvTranspose } from '../onnx/layers';
import type { ExportOptions, ExportProtoResult, ExportResult, LayerExport, LayerResult } from './types';
import type { StoredFormat } from '../../protocol/plan';
import { currentOpset, upgradeOpset } from './opsetUpgrade';
import { memTrace } from '../stream/memTrace';

/** The format a layer is written in: the plan's per-layer choice, else the asked one (`auto` without a plan: MatMul and Gather tables → matmulnbits, the rest → qdq). */
function layerFormat(opts: ExportOptions, l: { name: string; op: string }): Exclude<ExportOptions['format'], 'auto'> {
  return (
    opts.layerFormats?.get(l.name) ??
    (opts.format !== 'auto' ? opts.format : l.op === 'MatMul' || l.op === 'Gather' ? 'matmulnbits' : 'qdq')
  );
}

/** The exporter's per-layer formats from a plan's layers (`LayerPlan.format`; absent = the model's format): the job and the budget's size model both pass this. */
export function layerFormatsOf(layers: readonly { name: string; format?: StoredFormat }[]): Map<string, StoredFormat> {
  return new Map(layers.flatMap((l) => (l.format ? [[l.name, l.format] as const] : [])));
}

function writeFake(ctx: LayerCtx, w: Float32Array): void {
  const { l, node, ed } = ctx;
  const [rows, cols] = l.shape;
  const data =
    l.op === 'ConvTranspose' ? matrixToConvTranspose(w, convTransposeLayout(l)) : storedTransposed(l) ? transpose2d(w, rows, cols) : w;
  const dims =
    l.op === 'Conv' || l.op === 'ConvTranspose' || RECURRENT_OPS.has(l.op)
      ? l.ref.dims.slice()
      : storedTransposed(l)
        ? [cols, rows]
        : [rows, cols];
  ed.addInitializer(makeFloatTensor(ctx.weightName, dims, data, ctx.dtype));
  node.input[l.weightInput] = ctx.weightName;
}

function insertInputScale(ctx: LayerCtx, s: Float32Array): void {
  const { l, node, ed } = ctx;
  const inv = Float32Array.from(s, (v) => 1 / v);
  if (!inv.every(Number.isFinite)) throw new Error(`layer '${l.name}': input scale has zeros or non-finite values`);
  const dims = l.op === 'Conv' || l.op === 'ConvTranspose' ? [1, s.length, ...l.ref.dims.slice(2).map(() => 1)] : [s.length];
  const cname = ed.unique(`${l.name}_lowbit_inv_scale`);
  ed.addInitializer(makeFloatTensor(cname, dims, inv, ctx.dtype));
  const scaled = ed.unique(`${l.name}_lowbit_scaled_input`);
  ed.insertBefore(node, makeNode('Mul', [node.input[0], cname], [scaled], ed.unique(`${l.name}_lowbit_input_scale`)));
  node.input[0] = scaled;
}

function addLowRank(ctx: LayerCtx, lr: NonNullable<LayerResult['lowRank']>): void {
  const { l, node, ed } = ctx;
  const [rows, cols] = l.shape;
  const r = lr.rank;
  if (lr.L.length !== rows * r || lr.R.length !== r * cols)
    throw new Error(`layer '${l.name}': low-rank factors are ${lr.L.length}/${lr.R.length} values, expected ${rows}×${r} and ${r}×${cols}`);
  const rt = ed.unique(`${l.name}_lowbit_Rt`);
  const lt = ed.unique(`${l.name}_lowbit_Lt`);
  addFactor(ctx, rt, [cols, r], transpose2d(lr.R, r, cols));
  addFactor(ctx, lt, [r, rows], transpose2d(lr.L, rows, r));
  const out = node.output[0];
  const main = ed.unique(`${out}_lowbit_main`);
  node.output[0] = main;
  const t1 = ed.unique(`${l.name}_lowbit_xR`);
  const t2 = ed.unique(`${l.name}_lowbit_xRL`);
  ed.insertAfter(
    node,
    makeNode('MatMul', [node.input[0], rt], [t1], ed.unique(`${l.name}_lowbit_lr_R`)),
    makeNode('MatMul', [t1, lt], [t2], ed.unique(`${l.name}_lowbit_lr_L`)),
    makeNode('Add', [main, t2], [out], ed.unique(`${l.name}_lowbit_lr_add`)),
  );
}

/**
 * A low-rank factor as an initializer. Factors that are exactly fp16-representable (the engine rounds
 * them so, matching FLRQ's 16-bit storage budget) are stored as fp16 with a Cast to the model's float
 * type, which onnxruntime folds at load: half the bytes on disk, identical values at run time.
 */
function addFactor(ctx: LayerCtx, name: string, dims: number[], data: Float32Array): void {
  if (ctx.dtype !== DT.FLOAT || !isHalfExact(data)) {
    ctx.ed.addInitializer(makeFloatTensor(name, dims, data, ctx.dtype));
    return;
  }
  const half = ctx.ed.unique(`${name}_fp16`);
  ctx.ed.addInitializer(makeFloatTensor(half, dims, data, DT.FLOAT16));
  ctx.ed.insertBefore(ctx.node, makeNode('Cast', [half], [name], ctx.ed.unique(`${name}_cast`), [attr.int('to', DT.FLOAT)]));
}

/** W + L·R (for consumers that cannot take a low-rank branch). */
function foldLowRank(w: Float32Array, lr: NonNullable<LayerResult['lowRank']>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w);
  for (let o = 0; o < rows; o++)
    for (let k = 0; k < lr.rank; k++) {
      const a = lr.L[o * lr.rank + k];
      for (let i = 0; i < cols; i++) out[o * cols + i] += a * lr.R[k * cols + i];
    }
  return out;
}

/**
 * Builds the compressed model's bytes. `results` name layers of `model`; layers without a result
 * are left as they are. The source model is not modified.
 */
export function exportModel(model: OnnxModel, results: LayerResult[], opts: ExportOptions): ExportResult {
  const r = exportModelProto(model, results, opts);
  return { bytes: encodeModel(inlineExternalData(r.proto, model.src, 0), model.path), layers: r.layers, opset: r.opset };
}

/**
 * Builds the compressed model as a ModelProto, for `writeModelStreaming`: unchanged weights stay
 * views into the source file or references to the source's external data (nothing is inlined).
 */
export function exportModelProto(model: OnnxModel, results: LayerResult[], opts: ExportOptions): ExportProtoResult {
  const root = new GraphEditor(model.proto);
  const layers: LayerExport[] = [];
  /** Tied tables written once, by the first of their two consumers (see writeGatherBlockQuantized). */
  const sharedTables = new Map<string, SharedTable>();
  // Main-graph layers first: a later opset upgrade of the main graph would rebuild the If/Loop/Scan
  // nodes whose subgraphs were already edited. Subgraph layers then get the opset they need up front.
  const inScope = (r: LayerResult) => Boolean(model.layer(r.layer).scope);
  const ordered = [...results.filter((r) => !inScope(r)), ...results.filter(inScope)];
  let upgradeNote: string | undefined;
  let upgraded = false;
  for (const res of ordered) {
    const l = model.layer(res.layer);
    if (l.scope && !upgraded) {
      upgraded = true;
      upgradeNote = upgradeForSubgraphs(root, model, ordered.filter(inScope), opts);
    }
    const ed = l.scope ? root.scope(l.scope) : root;
    if (!l.quantizable) throw new Error(`${model.path}: layer '${l.name}' is not quantizable (${l.reason})`);
    const [rows, cols] = l.shape;
    // Read once: a streamed job's `dequant` is a getter that recomputes the whole fp32 weight (releaseDequant.ts).
    const dequant = res.dequant;
    if (dequant.length !== rows * cols)
      throw new Error(`layer '${l.name}': dequantized weight has ${dequant.length} values, expected ${rows}×${cols}`);
    const cur = ed.graph.node.find(
      (n) => n === l.nodeRef || (n.name === l.nodeRef.name && n.opType === l.nodeRef.opType && n.output[0] === l.nodeRef.output[0]),
    );
    if (!cur) throw new Error(`layer '${l.name}': its node '${l.node}' was already rewritten (two results for one node?)`);
    const node = ed.cloneNode(cur);
    let weightName: string;
    const local =
      !l.scope ||
      ed.graph.initializer.some((t) => t.name === l.ref.source) ||
      ed.graph.node.some((n) => n.opType === 'Constant' && n.output[0] === l.ref.source);
    if (!l.ref.chain.length && local && ed.usedOnce(l.ref.source)) {
      ed.dropStored(l.ref.source);
      weightName = ed.unique(l.ref.source);
    } else weightName = ed.unique(`${l.name}_lowbit`);
    const ctx: LayerCtx = {
      ed,
      l,
      node,
      weightName,
      dtype: l.ref.dataType === DT.FLOAT16 ? DT.FLOAT16 : DT.FLOAT,
      accuracyLevel: opts.accuracyLevel,
    };
    if (res.inputScale) {
      const group = l.nodeRef.attribute.find((a) => a.name === 'group')?.i ?? 1;
      const want = l.op === 'Conv' ? l.ref.dims[1] * group : l.op === 'ConvTranspose' ? l.ref.dims[0] : cols;
      if (res.inputScale.length !== want)
        throw new Error(`layer '${l.name}': input scale has ${res.inputScale.length} values, expected ${want} (one per input channel)`);
      insertInputScale(ctx, res.inputScale);
    }
    const branchOk = l.op === 'MatMul' || l.op === 'Gemm';
    const format = layerFormat(opts, l);
    const initializersBefore = ed.graph.initializer.length;
    let note: string | undefined;
    let written: LayerExport['written'] = 'fake';
    let storedBytes: number | undefined;
    let sparseForm: LayerExport['sparseForm'];
    let floatZeros = false;
    // A low-rank correction without a branch must be folded into a float weight: fake-quant only.
    if (l.scope && upgradeNote && format === 'qdq') note = upgradeNote;
    else if (format !== 'fake' && !(res.lowRank && !branchOk)) {
      try {
        if (format === 'packed' || (!res.q && res.binary)) {
          const out = writePackedResult(ctx, res, opts.sparseForm);
          storedBytes = out.bytes;
          sparseForm = out.sparseForm;
          written = 'packed';
          if (format !== 'packed') note = `binarized weights fit no ${format} grid; stored packed`;
        } else {
          if (!res.q) throw new ExportUnsupported('no integer codes (e.g. binarized or mixed); written as fake-quant');
          // MatMulNBits holds real-valued zero points (HQQ) as the scales' type; the other writers refuse them.
          const nq = normalizeQuant(l.name, res.q, dequant, { floatZeros: format === 'matmulnbits' && l.op !== 'Gather' });
          if (format === 'matmulnbits' && l.op === 'Gather') {
            writeGatherBlockQuantized(ctx, nq, sharedTables);
            written = 'matmulnbits';
          } else if (format === 'matmulnbits') {
            writeMatMulNBits(ctx, nq, sharedTables);
            written = 'matmulnbits';
            if (nq.floatZeros) floatZeros = true;
          } else {
            writeQdq(ctx, nq);
            written = 'qdq';
          }
        }
      } catch (e) {
        if (!(e instanceof ExportUnsupported)) throw e;
        note = e.message;
      }
    }
    if (written === 'fake') {
      const w = res.lowRank && !branchOk ? foldLowRank(dequant, res.lowRank, rows, cols) : dequant;
      writeFake(ctx, w);
    }
    if (res.lowRank && branchOk) addLowRank(ctx, res.lowRank);
    else if (res.lowRank) note = [note, `${l.op} takes no low-rank branch; L·R folded into the weight`].filter(Boolean).join('; ');
    if (storedBytes === undefined)
      storedBytes = ed.graph.initializer.slice(initializersBefore).reduce((a, t) => a + (t.rawData?.length ?? 0), 0);
    if (res.sparse && !sparseForm) sparseForm = 'dense';
    memTrace(`export: layer ${l.name} ${written}`);
    layers.push({
      layer: l.name,
      written,
      ...(note ? { note } : {}),
      ...(storedBytes !== undefined ? { storedBytes } : {}),
      ...(sparseForm ? { sparseForm } : {}),
      ...(floatZeros ? { floatZeros } : {}),
    });
  }
  for (const sub of root.subEditors()) sub.prune();
  root.prune();
  return { proto: root.model, layers, opset: currentOpset(root) };
}

/**
 * Raises the opset once for the QDQ layers inside subgraphs (13 for per-channel int8, 21 otherwise),
 * before any subgraph is edited. Returns why it could not (those layers are then written fake-quant).
 */
function upgradeForSubgraphs(root: GraphEditor, model: OnnxModel, scoped: LayerResult[], opts: ExportOptions): string | undefined {
  let need = 0;
  for (const r of scoped) {
    const l = model.layer(r.layer);
    const format = layerFormat(opts, l);
    if (format !== 'qdq' || !r.q) continue;
    const perRow = r.q.groupSize <= 0 || r.q.groupSize >= r.q.cols;
    const oneAxis = l.op !== 'ConvTranspose' && !(RECURRENT_OPS.has(l.op) && l.ref.dims[0] > 1);
    need = Math.max(need, r.q.bits > 4 && perRow && oneAxis ? 13 : 21, l.ref.dataType === DT.FLOAT16 ? 19 : 0);
  }
  if (!need) return undefined;
  try {
    upgradeOpset(root, Math.max(need, currentOpset(root)));
  } catch (e) {
    if (e instanceof ExportUnsupported) return e.message;
    throw e;
  }
  return undefined;
}
