/**
 * Per-input-channel activation statistics streamed over calibration tokens: mean |x| (AWQ's x̄),
 * max |x| (SmoothQuant), and signed min/max (OS+ shift). Float64 accumulators, O(n) memory.
 */
import { TokenSample } from './tokenSample';

export class ChannelStats {
  readonly absSum: Float64Array;
  readonly absMax: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  tokens = 0;
  /** JSQ's activation samples, when asked for (see tokenSample.ts). */
  sample?: TokenSample;

  constructor(
    readonly n: number,
    withSample = false,
  ) {
    if (withSample) this.sample = new TokenSample(n);
    this.absSum = new Float64Array(n);
    this.absMax = new Float64Array(n);
    this.min = new Float64Array(n).fill(Infinity);
    this.max = new Float64Array(n).fill(-Infinity);
  }

  /** Adds `tokens` rows of a row-major tokens×n block (windows of `period` tokens, for the sample). */
  add(x: Float32Array, tokens: number, period?: number): void {
    const { n, absSum, absMax, min, max } = this;
    if (x.length < tokens * n) throw new Error(`channel stats: ${x.length} values for ${tokens}×${n}`);
    for (let t = 0; t < tokens; t++) {
      const o = t * n;
      for (let j = 0; j < n; j++) {
        const v = x[o + j];
        const a = Math.abs(v);
        absSum[j] += a;
        if (a > absMax[j]) absMax[j] = a;
        if (v < min[j]) min[j] = v;
        if (v > max[j]) max[j] = v;
      }
    }
    this.tokens += tokens;
    this.sample?.add(x, tokens, period ?? tokens);
  }

  /** Mean |x| per channel (float32, as the kernels take it). */
  absMean(): Float32Array {
    const out = new Float32Array(this.n);
    for (let j = 0; j < this.n; j++) out[j] = this.tokens ? this.absSum[j] / this.tokens : 0;
    return out;
  }
}
