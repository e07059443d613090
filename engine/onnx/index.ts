/** ONNX model I/O: load, inspect, layer discovery, weights, calibration outputs, serialization. */
export { loadModel, parseModel, OnnxModel, type LayerWeight } from './model';
export { OnnxFormatError } from './protobuf';
export type { LayerRecord } from './layers';
export { inspectModel, ModelCache } from './inspect';
