/** Export: compressed model bytes (MatMulNBits / QDQ / fake-quant, low-rank branches, input scales) and atomic writes. */
export { exportModel } from './exportModel';
export { writeModelAtomic } from './writeModel';
export { packMatMulNBitsB, packMatMulNBitsZeros, normalizeQuant, ExportUnsupported } from './pack';
export type { ExportOptions, ExportResult, LayerExport, LayerResult, LowRankFactors, QuantizedWeightLike } from './types';
