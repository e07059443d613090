/** Weight layouts of the consumers, and the per-layer context shared by the format writers. */
import type { LayerRecord } from '../onnx/layers';
import type { NodeProto } from '../onnx/onnxProto';
import type { GraphEditor } from './graphEdit';

/** W [rows, cols] → Wᵀ [cols, rows]. */
export function transpose2d(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** Whether the consumer stores W transposed ([in, out]): MatMul, and Gemm without transB. */
export function storedTransposed(l: LayerRecord): boolean {
  return l.op === 'MatMul' || (l.op === 'Gemm' && !l.nodeRef.attribute.find((a) => a.name === 'transB')?.i);
}

/** Per-layer context shared by the format writers. */
export interface LayerCtx {
  ed: GraphEditor;
  l: LayerRecord;
  node: NodeProto;
  weightName: string;
  dtype: number;
  accuracyLevel?: number;
}
