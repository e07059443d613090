/** Export: compressed model bytes (MatMulNBits / QDQ / fake-quant, low-rank branches, input scales) and atomic writes. */
export { exportModel, exportModelProto } from './exportModel';
export {
  writeModelStreaming,
  externalDataPath,
  DEFAULT_EXTERNAL_THRESHOLD,
  type ExternalDataMode,
  type StreamingWriteOptions,
  type StreamingWriteResult,
} from './writeStreaming';
export { packMatMulNBitsB, packMatMulNBitsZeros, normalizeQuant, ExportUnsupported } from './pack';
export type { ExportOptions, ExportResult, LayerExport, LayerResult, LowRankFactors, QuantizedWeightLike } from './types';
