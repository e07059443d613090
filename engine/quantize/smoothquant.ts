/**
 * SmoothQuant (docs/algorithms.md §3b): per-channel migration scales for one group of layers sharing an
 * input, s_j = max|X_j|^α / max(max over consumers of max_i |W_ij|, 1e-5)^(1−α), clamped to ≥ 1e-5.
 */
import { columnAbsMax, smoothQuantScales } from '../../native/ts/index';
import type { LayerWeight } from './kernelTypes';

/** SmoothQuant scales of a group; `actAbsMax` is max_t |x_tj| of the shared input. */
export function smoothQuantGroupScales(weights: LayerWeight[], actAbsMax: Float32Array, alpha: number): Float32Array {
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`smoothquant: alpha must be in [0, 1] (got ${alpha})`);
  for (const w of weights) {
    if (w.cols !== actAbsMax.length)
      throw new Error(`smoothquant: weight has ${w.cols} input channels, activation statistics ${actAbsMax.length}`);
  }
  const wmax = columnAbsMax(weights.map((w) => ({ w: w.data, rows: w.rows, cols: w.cols })));
  return smoothQuantScales(actAbsMax, wmax, alpha);
}
