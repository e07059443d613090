/**
 * Format writers: com.microsoft.MatMulNBits and DequantizeLinear (QDQ). Each checks everything
 * that can make it fail (throwing ExportUnsupported) before it changes the graph.
 */
import type { AttributeProto } from '../onnx/onnxProto';
import { DT, makeFloatTensor, makeInt64Tensor, makeTensor } from '../onnx/tensor';
import { attr, makeNode } from './graphEdit';
import { storedTransposed, type LayerCtx } from './layout';
import { RECURRENT_OPS, convTransposeLayout, matrixToConvTranspose } from '../onnx/layers';
import { ExportUnsupported, packMatMulNBitsB, packMatMulNBitsZeros, packNibbles, type NormalizedQuant } from './pack';
import { currentOpset, upgradeOpset } from './opsetUpgrade';

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** MatMulNBits block size for a quantization group (per-row groups become one padded block). */
export function matMulNBitsBlockSize(nq: NormalizedQuant): number {
  if (nq.group === nq.cols && nq.nGroups === 1) {
    let bs = 16;
    while (bs < nq.cols) bs *= 2;
    return bs;
  }
  if (!isPow2(nq.group) || nq.group < 16)
    throw new ExportUnsupported(`MatMulNBits needs a power-of-2 group size ≥ 16, not ${nq.group}; written as fake-quant`);
  return nq.group;
}

/** Replaces a MatMul by com.microsoft.MatMulNBits (B packed, fp32/fp16 scales, uint8 zero points unless all default, or float ones of the scales' type). */
export function writeMatMulNBits(ctx: LayerCtx, nq: NormalizedQuant, shared: Map<string, SharedTable> = new Map()): void {
  const { l, node, ed } = ctx;
  const bias = gemmBias(ctx);
  if (![2, 4, 8].includes(nq.bits)) throw new ExportUnsupported(`MatMulNBits stores 2, 4 or 8 bits, not ${nq.bits}; written as fake-quant`);
  // onnxruntime (1.30, CPU) dequantizes float zero points only at 2 and 4 bits ("Only 2b and 4b ... unpacked compute").
  if (nq.floatZeros && nq.bits === 8)
    throw new ExportUnsupported(
      `onnxruntime's MatMulNBits takes real-valued zero points at 2 and 4 bits only, not 8; written as fake-quant`,
    );
  const bs = matMulNBitsBlockSize(nq);
  // A tied head shares its table's initializers with the embedding's GatherBlockQuantized (see sharedTable).
  const t = sharedTable(ctx, nq, bs, shared);
  const inputs = [node.input[0], t.b, t.scales, ...(t.zeros ? [t.zeros] : [])];
  node.opType = 'MatMulNBits';
  node.domain = 'com.microsoft';
  node.input = inputs;
  node.attribute = [attr.int('K', nq.cols), attr.int('N', nq.rows), attr.int('bits', nq.bits), attr.int('block_size', bs)];
  if (ctx.accuracyLevel) node.attribute.push(attr.int('accuracy_level', ctx.accuracyLevel));
  ed.requireOpset('com.microsoft', 1);
  if (bias) {
    const out = node.output[0];
    node.output[0] = ed.unique(`${out}_lowbit_nobias`);
    ed.insertAfter(node, makeNode('Add', [node.output[0], bias], [out], ed.unique(`${l.name}_lowbit_bias`)));
  }
}

/**
 * Replaces an embedding Gather by com.microsoft.GatherBlockQuantized (uint8 data with `bits` 4 or 8,
 * blocks of `block_size` along the hidden axis, fp32/fp16 scales, zero points packed like
 * MatMulNBits' and omitted when all are 2^(bits−1)). The packed bytes are MatMulNBits' B layout
 * [rows, blocks, block bytes] read through a Reshape to [rows, cols·bits/8], so a tied head written as
 * MatMulNBits shares the very same initializers (`shared`): the table is stored once.
 */
export function writeGatherBlockQuantized(ctx: LayerCtx, nq: NormalizedQuant, shared: Map<string, SharedTable>): void {
  const { l, node, ed } = ctx;
  if (nq.bits !== 4 && nq.bits !== 8)
    throw new ExportUnsupported(`GatherBlockQuantized stores 4 or 8 bits, not ${nq.bits}; written as fake-quant`);
  const bs = nq.group;
  if (nq.floatZeros) throw new ExportUnsupported('GatherBlockQuantized stores integer zero points only; written as fake-quant');
  if (!isPow2(bs) || bs < 16 || nq.cols % bs !== 0)
    throw new ExportUnsupported(
      `GatherBlockQuantized needs a power-of-2 group size ≥ 16 that divides the hidden size ${nq.cols}, not ${bs}; written as fake-quant`,
    );
  const t = sharedTable(ctx, nq, bs, shared);
  const data = ed.unique(`${l.name}_data`);
  ed.insertBefore(
    node,
    makeNode(
      'Reshape',
      [t.b, int64Const(ctx, `${l.name}_data_shape`, [nq.rows, (nq.cols * nq.bits) / 8])],
      [data],
      ed.unique(`${l.name}_Reshape`),
    ),
  );
  node.opType = 'GatherBlockQuantized';
  node.domain = 'com.microsoft';
  node.input = [data, node.input[1], t.scales, ...(t.zeros ? [t.zeros] : [])];
  node.attribute = [attr.int('gather_axis', 0), attr.int('quantize_axis', 1), attr.int('block_size', bs), attr.int('bits', nq.bits)];
  ed.requireOpset('com.microsoft', 1);
}

function int64Const(ctx: LayerCtx, base: string, values: number[]): string {
  const name = ctx.ed.unique(base);
  ctx.ed.addInitializer(makeInt64Tensor(name, values));
  return name;
}

/** The stored form of a table: MatMulNBits B [rows, blocks, block bytes], scales [rows, blocks], zero points. */
export interface SharedTable {
  b: string;
  scales: string;
  zeros?: string;
  blockSize: number;
  nq: NormalizedQuant;
}

const sameQuant = (a: NormalizedQuant, b: NormalizedQuant): boolean =>
  a.bits === b.bits &&
  a.rows === b.rows &&
  a.cols === b.cols &&
  a.group === b.group &&
  a.codes.every((v, i) => v === b.codes[i]) &&
  a.zeros.every((v, i) => v === b.zeros[i]) &&
  !a.floatZeros === !b.floatZeros &&
  (!a.floatZeros || a.floatZeros.every((v, i) => v === b.floatZeros![i])) &&
  a.scales.every((v, i) => v === b.scales[i]);

/** The table's stored initializers: reused when its tied partner already wrote the same codes, else added (under `ctx.weightName`). */
function sharedTable(ctx: LayerCtx, nq: NormalizedQuant, bs: number, shared: Map<string, SharedTable>): SharedTable {
  const key = ctx.l.ref.source;
  const prev = ctx.l.tiedWith ? shared.get(key) : undefined;
  if (prev && prev.blockSize === bs && sameQuant(prev.nq, nq)) return prev;
  const { ed, l } = ctx;
  const kb = Math.ceil(nq.cols / bs);
  ed.addInitializer(makeTensor(ctx.weightName, DT.UINT8, [nq.rows, kb, (bs * nq.bits) / 8], packMatMulNBitsB(nq, bs)));
  const scales = ed.unique(`${l.name}_scales`);
  ed.addInitializer(makeFloatTensor(scales, [nq.rows, kb], nq.scales, ctx.dtype));
  let zeros: string | undefined;
  if (nq.floatZeros) {
    // Real-valued zero points (HQQ): MatMulNBits takes them unpacked, of the scales' type, [N, blocks].
    zeros = ed.unique(`${l.name}_zero_points`);
    ed.addInitializer(makeFloatTensor(zeros, [nq.rows, kb], nq.floatZeros, ctx.dtype));
  } else if (!nq.defaultZeros) {
    zeros = ed.unique(`${l.name}_zero_points`);
    const zb = packMatMulNBitsZeros(nq);
    ed.addInitializer(makeTensor(zeros, DT.UINT8, [nq.rows, zb.length / nq.rows], zb));
  }
  const t = { b: ctx.weightName, scales, zeros, blockSize: bs, nq };
  if (ctx.l.tiedWith) shared.set(key, t);
  return t;
}

/**
 * Checks that the consumer can become MatMulNBits: MatMul, or Gemm with transA = 0, alpha = 1 and
 * beta = 1 (its bias C, if any, becomes an Add). Returns the bias input name.
 */
function gemmBias(ctx: LayerCtx): string | undefined {
  const n = ctx.node;
  if (ctx.l.op === 'MatMul') return undefined;
  if (ctx.l.op !== 'Gemm') throw new ExportUnsupported(`MatMulNBits replaces MatMul and Gemm only, not ${ctx.l.op}; written as fake-quant`);
  const a = (name: string) => n.attribute.find((x) => x.name === name);
  if (a('transA')?.i || (a('alpha')?.f ?? 1) !== 1 || (n.input[2] && (a('beta')?.f ?? 1) !== 1))
    throw new ExportUnsupported('MatMulNBits needs Gemm with transA=0, alpha=1, beta=1; written as fake-quant');
  return n.input[2] || undefined;
}

/** Rearranges a [rows, cols] row-major array of per-element values into the consumer's layout. */
function layoutCodes(ctx: LayerCtx, nq: NormalizedQuant): Uint8Array {
  if (!storedTransposed(ctx.l)) return nq.codes;
  const out = new Uint8Array(nq.codes.length);
  for (let r = 0; r < nq.rows; r++) for (let c = 0; c < nq.cols; c++) out[c * nq.rows + r] = nq.codes[r * nq.cols + c];
  return out;
}

/**
 * Puts DequantizeLinear in front of the consumer: uint4 (≤ 4 bits) or uint8 codes with uint zero
 * points; per output channel when there is one group per row, else blocked along the input axis
 * (opset 21). Upgrades the opset only as far as needed.
 */
export function writeQdq(ctx: LayerCtx, nq: NormalizedQuant): void {
  const { l, ed } = ctx;
  if (l.op === 'ConvTranspose') {
    writeQdqConvTranspose(ctx, nq);
    return;
  }
  if (RECURRENT_OPS.has(l.op)) {
    writeQdqRecurrent(ctx, nq);
    return;
  }
  const perChannel = nq.nGroups === 1;
  // Blocked Conv: the groups run along the flattened (I/g·kh·kw) axis, which no single weight axis is,
  // so the weight is dequantized as the [O, I/g·kh·kw] matrix and reshaped to its 4-D dims.
  const convMatrix = l.op === 'Conv' && !perChannel;
  const four = nq.bits <= 4;
  let need = perChannel ? 13 : 21;
  if (four) need = 21;
  if (ctx.dtype === DT.FLOAT16) need = Math.max(need, 19);
  upgradeOpset(ed, Math.max(need, currentOpset(ed)));
  const transposed = storedTransposed(l);
  const codes = layoutCodes(ctx, nq);
  const wdims = l.op === 'Conv' && !convMatrix ? l.ref.dims.slice() : transposed ? [nq.cols, nq.rows] : [nq.rows, nq.cols];
  // Scales/zeros are [rows, nGroups]; the blocked layout wants [kb, N] (transposed) or [N, kb].
  let sdims: number[];
  let scales = nq.scales;
  let zeros = nq.zeros;
  if (perChannel) sdims = [nq.rows];
  else if (transposed) {
    sdims = [nq.nGroups, nq.rows];
    scales = new Float32Array(nq.scales.length);
    zeros = new Uint8Array(nq.zeros.length);
    for (let r = 0; r < nq.rows; r++)
      for (let g = 0; g < nq.nGroups; g++) {
        scales[g * nq.rows + r] = nq.scales[r * nq.nGroups + g];
        zeros[g * nq.rows + r] = nq.zeros[r * nq.nGroups + g];
      }
  } else sdims = [nq.rows, nq.nGroups];
  const axis = perChannel ? (transposed ? 1 : 0) : transposed ? 0 : 1;
  const attrs = [attr.int('axis', axis)];
  if (!perChannel) attrs.push(attr.int('block_size', nq.group));
  insertDequantize(ctx, four, { codes, wdims, scales, zeros, sdims, attrs });
  if (convMatrix) {
    const { node } = ctx;
    const shape = ed.unique(`${l.name}_conv_shape`);
    ed.addInitializer(makeInt64Tensor(shape, l.ref.dims));
    const reshaped = ed.unique(`${l.name}_dequantized_conv`);
    ed.insertBefore(node, makeNode('Reshape', [node.input[l.weightInput], shape], [reshaped], ed.unique(`${l.name}_conv_reshape`)));
    node.input[l.weightInput] = reshaped;
  }
}

/**
 * Stores codes (uint4 when `four`, else uint8), scales and zero points as initializers and puts a
 * DequantizeLinear with `attrs` in front of the consumer, which then reads its output.
 */
function insertDequantize(
  ctx: LayerCtx,
  four: boolean,
  q: { codes: Uint8Array; wdims: number[]; scales: Float32Array; zeros: Uint8Array; sdims: number[]; attrs: AttributeProto[] },
): void {
  const { l, node, ed } = ctx;
  const qtype = four ? DT.UINT4 : DT.UINT8;
  const pack = (v: Uint8Array) => (four ? packNibbles(v) : v);
  const sname = ed.unique(`${l.name}_scale`);
  const zname = ed.unique(`${l.name}_zero_point`);
  ed.addInitializer(makeTensor(ctx.weightName, qtype, q.wdims, pack(q.codes)));
  ed.addInitializer(makeFloatTensor(sname, q.sdims, q.scales, ctx.dtype));
  ed.addInitializer(makeTensor(zname, qtype, q.sdims, pack(q.zeros)));
  const deq = ed.unique(`${l.name}_dequantized`);
  ed.insertBefore(
    node,
    makeNode('DequantizeLinear', [ctx.weightName, sname, zname], [deq], ed.unique(`${l.name}_DequantizeLinear`), q.attrs),
  );
  node.input[l.weightInput] = deq;
}

/**
 * DequantizeLinear for ConvTranspose (weight [I, O/g, k…], matrix rows (o, kidx), cols = I/g). The
 * quantizer's groups run along I inside one row, and per-axis DequantizeLinear has one scale axis,
 * so the scales are blocked along axis 0 (opset 21) with block_size = the group size (I/g when per
 * channel): scale [g·⌈(I/g)/bs⌉, O/g, k…]. With group > 1 a block may not straddle two groups.
 */
function writeQdqConvTranspose(ctx: LayerCtx, nq: NormalizedQuant): void {
  const { l, ed } = ctx;
  const t = convTransposeLayout(l);
  if (t.group > 1 && nq.cols % nq.group !== 0)
    throw new ExportUnsupported(
      `QDQ for ConvTranspose with group=${t.group} needs a group size dividing ${nq.cols} input channels per group, not ${nq.group}; written as fake-quant`,
    );
  upgradeOpset(ed, Math.max(21, currentOpset(ed)));
  const blocks = t.group * nq.nGroups;
  const scales = new Float32Array(blocks * t.rowsPerGroup);
  const zeros = new Uint8Array(scales.length);
  for (let g = 0; g < t.group; g++)
    for (let rr = 0; rr < t.rowsPerGroup; rr++)
      for (let b = 0; b < nq.nGroups; b++) {
        const src = (g * t.rowsPerGroup + rr) * nq.nGroups + b;
        const dst = (g * nq.nGroups + b) * t.rowsPerGroup + rr;
        scales[dst] = nq.scales[src];
        zeros[dst] = nq.zeros[src];
      }
  const wdims = l.ref.dims.slice();
  insertDequantize(ctx, nq.bits <= 4, {
    codes: matrixToConvTranspose(nq.codes, t),
    wdims,
    scales,
    zeros,
    sdims: [blocks, ...wdims.slice(1)],
    attrs: [attr.int('axis', 0), attr.int('block_size', nq.group)],
  });
}

/**
 * DequantizeLinear for an LSTM/GRU/RNN W or R ([dirs, gates·H, in], matrix rows = dirs·gates·H):
 * one direction per channel → per-axis scales on axis 1 (int8 at opset 13, int4 at 21); otherwise
 * blocked along axis 2 (opset 21), scales [dirs, gates·H, ⌈in/group⌉].
 */
function writeQdqRecurrent(ctx: LayerCtx, nq: NormalizedQuant): void {
  const { l, ed } = ctx;
  const dims = l.ref.dims.slice();
  const perAxis = nq.nGroups === 1 && dims[0] === 1;
  const four = nq.bits <= 4;
  let need = perAxis && !four ? 13 : 21;
  if (ctx.dtype === DT.FLOAT16) need = Math.max(need, 19);
  upgradeOpset(ed, Math.max(need, currentOpset(ed)));
  const block = nq.nGroups === 1 ? nq.cols : nq.group;
  insertDequantize(ctx, four, {
    codes: nq.codes,
    wdims: dims,
    scales: nq.scales,
    zeros: nq.zeros,
    sdims: perAxis ? [dims[1]] : [dims[0], dims[1], nq.nGroups],
    attrs: perAxis ? [attr.int('axis', 1)] : [attr.int('axis', 2), attr.int('block_size', block)],
  });
}
