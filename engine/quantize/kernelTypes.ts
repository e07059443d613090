/**
 * The kernel contract (a leaf types module): what a method kernel receives and returns. The kernel
 * registry (kernels.ts), the method modules and the calibration code all import these types from here,
 * so none of them imports another for its types.
 */
import type { LayerPlan } from '../../protocol/plan';
import type { LayerReport } from '../../protocol/report';
import type { InputStatistics } from '../calibrate/inputStatistics';
import type { BinaryForm } from '../export/types';

/** A layer's FP weight as the quantizer sees it: W is rows×cols = out×in, row-major. */
export interface LayerWeight {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** What a kernel returns: the dequantized weight, plus storage pieces the exporter may use. */
export interface KernelOutput {
  dequant: Float32Array;
  /** Codes/scales/zeros as the native kernel returned them (for MatMulNBits/QDQ export). */
  q?: unknown;
  /** Compact form of a binarized layer (bit planes + parameters) for the packed export. */
  binary?: BinaryForm;
  lowRank?: unknown;
  inputScale?: Float32Array;
  /** Stored bits per weight when the kernel knows better than bits + scales + zeros (e.g. low-rank factors). */
  bitsPerWeight?: number;
  /** Method internals for the report. */
  details?: Partial<
    Pick<LayerReport, 'gptq' | 'gptaq' | 'awq' | 'smoothing' | 'binarization' | 'low_rank' | 'hqq' | 'adaround' | 'sparsity' | 'jsq'>
  >;
}

export interface KernelContext {
  layer: LayerPlan;
  weight: LayerWeight;
  /** Calibration statistics of the layer's input (absent for methods/ops without calibration). */
  input?: InputStatistics;
  signal?: AbortSignal;
  /** Kernel threads (0 = all cores). */
  threads?: number;
  /** Fraction of this layer done, 0..1. */
  onProgress?: (fraction: number) => void;
  /** Set for awq/smoothquant/osplus once prepareActivationAware folded the layer's input transform:
   *  `weight` is then W·diag(s) and `input` describes the transformed input. */
  prepared?: PreparedDetails;
}

export type Kernel = (ctx: KernelContext) => Promise<KernelOutput>;

/** Method internals a kernel reports (also what prepareActivationAware hands to its layers' kernels). */
export type PreparedDetails = NonNullable<KernelOutput['details']>;

/** What quantization needs from the loaded model. */
export interface QuantizeModel {
  getWeight(layer: string): LayerWeight;
  layerInput(layer: string): string;
}
