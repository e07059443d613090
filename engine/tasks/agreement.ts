/**
 * Output agreement between a reference (FP) model output and a compressed one: cosine similarity,
 * signal-to-quantization-noise ratio in dB, and argmax agreement along the last axis.
 * All sums are in float64.
 */

/** Streaming accumulator over many output tensors (e.g. one per evaluation sample). */
export class AgreementAccumulator {
  private dot = 0;
  private refSq = 0;
  private testSq = 0;
  private noiseSq = 0;
  private argmaxSame = 0;
  private argmaxTotal = 0;

  /** Adds one pair of outputs with the same shape; `classes` = last-axis size for argmax (0 = skip). */
  add(reference: Float32Array, test: Float32Array, classes = 0): this {
    this.addValues(reference, test);
    if (classes > 0) this.addArgmax(reference, test, classes);
    return this;
  }

  /** Cosine/SQNR/relative-error part only. */
  addValues(reference: Float32Array, test: Float32Array): this {
    if (reference.length !== test.length) throw new Error(`output agreement: lengths differ (${reference.length} vs ${test.length})`);
    for (let i = 0; i < reference.length; i++) {
      const r = reference[i];
      const t = test[i];
      this.dot += r * t;
      this.refSq += r * r;
      this.testSq += t * t;
      this.noiseSq += (r - t) * (r - t);
    }
    return this;
  }

  /** Argmax part only: rows of `classes` values (row-major). */
  addArgmax(reference: Float32Array, test: Float32Array, classes: number): this {
    if (reference.length !== test.length) throw new Error(`output agreement: lengths differ (${reference.length} vs ${test.length})`);
    if (reference.length % classes !== 0) throw new Error(`output agreement: ${reference.length} values are not rows of ${classes}`);
    for (let row = 0; row < reference.length; row += classes) {
      if (argmax(reference, row, classes) === argmax(test, row, classes)) this.argmaxSame++;
      this.argmaxTotal++;
    }
    return this;
  }

  /** The metrics so far. Cosine is 1 when both are all-zero; SQNR is +Infinity for identical outputs. */
  result(): OutputAgreement {
    const denom = Math.sqrt(this.refSq * this.testSq);
    return {
      cosine: denom === 0 ? (this.refSq === this.testSq ? 1 : 0) : this.dot / denom,
      sqnrDb: this.noiseSq === 0 ? Infinity : 10 * Math.log10(this.refSq / this.noiseSq),
      argmaxAgreement: this.argmaxTotal ? this.argmaxSame / this.argmaxTotal : undefined,
      relativeError: this.refSq === 0 ? (this.noiseSq === 0 ? 0 : Infinity) : Math.sqrt(this.noiseSq / this.refSq),
    };
  }
}

/** Agreement metrics (see AgreementAccumulator). */
export interface OutputAgreement {
  cosine: number;
  sqnrDb: number;
  /** Fraction of rows whose argmax matches; undefined when not computed. */
  argmaxAgreement?: number;
  /** ‖ref − test‖ / ‖ref‖. */
  relativeError: number;
}

/** One-shot agreement for a single pair of outputs. */
export function outputAgreement(reference: Float32Array, test: Float32Array, classes = 0): OutputAgreement {
  return new AgreementAccumulator().add(reference, test, classes).result();
}

/** Index of the largest value in `x[start .. start+n)` (first one on ties). */
export function argmax(x: ArrayLike<number>, start = 0, n = x.length - start): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < n; i++)
    if (x[start + i] > bestV) {
      bestV = x[start + i];
      best = i;
    }
  return best;
}
