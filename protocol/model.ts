/** What the engine tells the rest of the house about a model's layers (inspect, completion, hover, plan). */
export interface LayerInfo {
  /** Layer name = the weight tensor's name (stable across exports). */
  name: string;
  /** ONNX op type of the consuming node: MatMul, Gemm, Conv, ConvTranspose, … */
  op: string;
  /** Name of the consuming node. */
  node: string;
  /** Weight as the quantizer sees it: [out, in] (Conv: [O, I·kh·kw / groups]; ConvTranspose: [O·kh·kw, I / groups]). */
  shape: [number, number];
  /** The weight tensor's own dims as stored in the file. */
  dims: number[];
  params: number;
  dtype: 'float32' | 'float16';
  quantizable: boolean;
  /**
   * An embedding table read by `Gather` (rows = vocabulary, cols = hidden; groups run along the hidden
   * axis). Opt-in: quantized only when a `layers:` rule matches it, with `rtn` unless the rule names a method.
   */
  embedding?: boolean;
  /** The other layer of a tied table (one weight read by a Gather and by a MatMul/Gemm head). */
  tiedWith?: string;
  /**
   * Set when calibration cannot observe the layer's input (recurrent W/R, layers inside subgraphs):
   * why. Such layers are quantized data-free (the plan turns calibrated methods into rtn, with a warning).
   */
  dataFree?: string;
  /** The subgraph holding the layer (`If_0/then_branch`), absent in the main graph. */
  subgraph?: string;
  /** Default-domain opset of the model (what `format: auto` can store depends on it). */
  opset?: number;
  /** Why a weight-bearing op is not quantizable (only when quantizable is false). */
  reason?: string;
}

/** A float tensor a compression leaves in full precision, and why (see engine/onnx/leftAlone.ts). */
export interface LeftAloneTensor {
  /** Tensor name; inside a subgraph, prefixed by its place (`If_0/then_branch/…`). */
  name: string;
  bytes: number;
  /** bytes / the model file's bytes. */
  share: number;
  reason: string;
}

export interface ModelSummary {
  path: string;
  opset: number;
  producer: string;
  inputs: { name: string; dtype: string; dims: (number | string)[] }[];
  outputs: { name: string; dtype: string; dims: (number | string)[] }[];
  layers: LayerInfo[];
  totalParams: number;
  fileBytes: number;
  /** Real paths of the external data files the model reads (absent when it has none). */
  externalFiles?: string[];
  /** Why an external data location is refused (outside the model folder, missing…), when one is. */
  externalDataError?: string;
  /** Float tensors of at least 16 KiB that compressing every quantizable layer would leave alone. */
  leftAlone?: LeftAloneTensor[];
  /**
   * Whether the recipe's `rotation: hadamard` can rotate this model's residual stream
   * (engine/transforms/rotation.ts): its width, or the node that prevents it and why.
   */
  rotation?: { size: number } | { problem: string };
}
