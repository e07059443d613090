/**
 * What calibration accumulates for one layer-input tensor (a leaf types module: calibration produces
 * it, the quantize kernels read it, and neither imports the other for it).
 */
import type { CrossStatistic, Hessian } from '../../native/ts/index';
import type { ChannelStats } from './channelStats';

/** Accumulated statistics of one layer-input tensor. */
export interface InputStatistics {
  tensor: string;
  /** Channels (the last dim of the tensor = the layer's `in`). */
  n: number;
  hessian: Hessian;
  stats: ChannelStats;
  /**
   * GPTAQ's D = 2/N·Σ (x − x̃)x̃ᵀ (x: the float model's input, x̃: this one's, same tokens), when
   * calibration ran a float reference model next to the quantized-prefix one (calibrate's `reference`).
   */
  cross?: CrossStatistic;
  /** Layers that read this tensor. */
  layers: string[];
}
