/**
 * Measured per-layer loss: mean KL(FP‖Q) per predicted token on a few token windows, with the FP
 * log-probabilities computed once and every probe model (one layer fake-quantized) run against them.
 */
import type * as ort from 'onnxruntime-node';
import type { TextWindows } from '../data/text';
import { openSession, runTokens } from '../evaluate/ortSession';
import { klDivergence, logSoftmax } from '../evaluate/tokenMetrics';

export class KlProbe {
  private constructor(
    private readonly windows: TextWindows,
    /** FP log-probabilities, [window][position < L−1][vocab] flattened. */
    private readonly fpLogProbs: Float64Array,
    private readonly vocab: number,
    private readonly threads: number,
    private readonly externalDataDir?: string,
  ) {}

  /** Runs the FP model once on `windows`. */
  static async create(fpModel: Uint8Array, windows: TextWindows, threads: number, externalDataDir?: string): Promise<KlProbe> {
    const s = await openSession(fpModel, threads, 'FP model', externalDataDir);
    try {
      const { data, dims } = await runTokens(s, windows.ids, windows.count, windows.sequenceLength);
      const L = windows.sequenceLength,
        vocab = dims[dims.length - 1];
      if (dims.length !== 3 || dims[1] !== L)
        throw new Error(`FP model: logits have shape [${dims}], expected [${windows.count}, ${L}, vocab]`);
      const lp = new Float64Array(windows.count * (L - 1) * vocab);
      const row = new Float64Array(vocab);
      for (let w = 0; w < windows.count; w++)
        for (let p = 0; p < L - 1; p++) {
          logSoftmax(data, (w * L + p) * vocab, vocab, row);
          lp.set(row, (w * (L - 1) + p) * vocab);
        }
      return new KlProbe(windows, lp, vocab, threads, externalDataDir);
    } finally {
      await s.release();
    }
  }

  /** Mean KL(FP‖Q) per predicted token of the model in `bytes`. */
  async measure(bytes: Uint8Array, label: string): Promise<number> {
    const s: ort.InferenceSession = await openSession(bytes, this.threads, label, this.externalDataDir);
    try {
      const { windows, vocab } = this;
      const L = windows.sequenceLength;
      const { data } = await runTokens(s, windows.ids, windows.count, L);
      const lq = new Float64Array(vocab);
      let sum = 0,
        n = 0;
      for (let w = 0; w < windows.count; w++)
        for (let p = 0; p < L - 1; p++) {
          logSoftmax(data, (w * L + p) * vocab, vocab, lq);
          const off = (w * (L - 1) + p) * vocab;
          sum += klDivergence(this.fpLogProbs.subarray(off, off + vocab), lq);
          n++;
        }
      return n ? sum / n : 0;
    } finally {
      await s.release();
    }
  }
}
