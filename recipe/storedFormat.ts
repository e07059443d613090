/**
 * Which format one layer is stored in. A fixed format is kept (binarized methods, which fit no
 * integer grid, go `packed` under `matmulnbits`/`qdq`); `auto` picks, per layer, the most compact
 * form onnxruntime runs for the layer's op, bits and the model's opset (docs/decisions.md, "format: auto").
 */
import type { LayerInfo } from '../protocol/model';
import type { ExportFormat, Method, StoredFormat } from '../protocol/plan';
import { METHOD_INFO } from './schema';

/** Opset where DequantizeLinear gains int4 and blocked (block_size) scales. */
export const BLOCKED_QDQ_OPSET = 21;

export interface StoredChoice {
  format: StoredFormat;
  /** Bits and group size the layer is quantized with (auto may store Conv/Gemm as per-channel int8). */
  bits: number;
  groupSize: number;
  /** Why `auto` changed the layer's bits or group size, or did not pick the op's usual form. */
  note?: string;
}

const RECURRENT = new Set(['LSTM', 'GRU', 'RNN']);

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Whether MatMulNBits holds this grid (2/4/8 bits, power-of-2 group ≥ 16 or one group per row). */
export function matMulNBitsHolds(bits: number, groupSize: number): boolean {
  return [2, 4, 8].includes(bits) && (groupSize === -1 || (isPow2(groupSize) && groupSize >= 16));
}

/** The stored format of one layer asked to be stored as `asked`. */
export function storedFormatFor(
  asked: ExportFormat,
  layer: Pick<LayerInfo, 'op' | 'opset'> & Partial<Pick<LayerInfo, 'dims'>>,
  method: Method,
  bits: number,
  groupSize: number,
  /** A pruned layer: `auto` stores it `packed` (a bitmap + the surviving codes), the only form where sparsity saves space. */
  sparse = false,
): StoredChoice {
  const info = METHOD_INFO[method];
  if (asked === 'auto' && sparse)
    return { format: 'packed', bits, groupSize, note: 'sparse layers are stored as a bitmap plus the surviving codes' };
  const integerGrid = info.formats.includes('matmulnbits');
  if (asked !== 'auto') {
    const format: StoredFormat = !info.formats.includes(asked) && asked !== 'fake' && info.formats.includes('packed') ? 'packed' : asked;
    return { format, bits, groupSize };
  }
  if (!integerGrid) return { format: 'packed', bits, groupSize, note: `${method} weights fit no integer grid` };
  if (layer.op === 'MatMul') {
    return matMulNBitsHolds(bits, groupSize)
      ? { format: 'matmulnbits', bits, groupSize }
      : { format: 'packed', bits, groupSize, note: `MatMulNBits cannot hold ${bits}-bit weights in groups of ${groupSize}` };
  }
  if (layer.op === 'Gather') {
    // Embedding tables: com.microsoft GatherBlockQuantized (written under matmulnbits) holds 4 or 8 bits in power-of-2 groups ≥ 16.
    return (bits === 4 || bits === 8) && isPow2(groupSize) && groupSize >= 16
      ? { format: 'matmulnbits', bits, groupSize }
      : {
          format: 'fake',
          bits,
          groupSize,
          note: `GatherBlockQuantized holds 4 or 8 bits in power-of-2 groups of 16 or more, not ${bits} bits in groups of ${groupSize}`,
        };
  }
  const opset = layer.opset ?? 0;
  // Packed decodes MatMul, Gemm and Conv weights only.
  const noPacked = layer.op === 'ConvTranspose' || RECURRENT.has(layer.op);
  if (opset >= BLOCKED_QDQ_OPSET) {
    if (bits === 4 || bits === 8) return { format: 'qdq', bits, groupSize };
    return {
      format: noPacked ? 'fake' : 'packed',
      bits,
      groupSize,
      note: `DequantizeLinear stores 4 or 8 bits, not ${bits}${noPacked ? `, and packed has no ${layer.op} form` : ''}`,
    };
  }
  if (RECURRENT.has(layer.op) && (layer.dims?.[0] ?? 1) > 1) {
    // Two directions: a per-row scale is not one weight axis, so only blocked scales (opset 21) hold it.
    return bits === 4 || bits === 8
      ? {
          format: 'qdq',
          bits,
          groupSize,
          note: `a bidirectional ${layer.op} weight needs blocked DequantizeLinear, so the model's opset ${opset} is raised to ${BLOCKED_QDQ_OPSET}`,
        }
      : { format: 'fake', bits, groupSize, note: `DequantizeLinear stores 4 or 8 bits, not ${bits}, and packed has no ${layer.op} form` };
  }
  if (layer.op === 'ConvTranspose') {
    // Its output channels are not one weight axis, so only blocked scales (opset 21) hold its groups; packed has no ConvTranspose form.
    return bits === 4 || bits === 8
      ? {
          format: 'qdq',
          bits,
          groupSize,
          note: `a ConvTranspose weight needs blocked DequantizeLinear, so the model's opset ${opset} is raised to ${BLOCKED_QDQ_OPSET}`,
        }
      : { format: 'fake', bits, groupSize, note: `DequantizeLinear stores 4 or 8 bits, not ${bits}, and packed has no ConvTranspose form` };
  }
  if (bits === 8 && groupSize === -1) return { format: 'qdq', bits, groupSize };
  return {
    format: 'qdq',
    bits: 8,
    groupSize: -1,
    note: `opset ${opset} < ${BLOCKED_QDQ_OPSET} has no int4 or blocked DequantizeLinear, so ${layer.op} weights are per-channel int8`,
  };
}
