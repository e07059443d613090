/**
 * Per-token metrics on logits, in float64: next-token NLL, KL(FP‖Q), top-1 agreement.
 * Logits are row-major [positions, vocab].
 */

/** log-softmax of one row into `out` (float64). */
export function logSoftmax(logits: ArrayLike<number>, start: number, vocab: number, out: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) if (logits[start + v] > max) max = logits[start + v];
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[start + v] - max);
  const lse = max + Math.log(sum);
  for (let v = 0; v < vocab; v++) out[v] = logits[start + v] - lse;
}

/** Index of the largest entry of one row (first on ties). */
export function argmax(logits: ArrayLike<number>, start: number, vocab: number): number {
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[start + v] > logits[start + best]) best = v;
  return best;
}

/** KL(p‖q) = Σ p (log p − log q) for two log-probability rows. */
export function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let v = 0; v < logP.length; v++) {
    const p = Math.exp(logP[v]);
    if (p > 0) kl += p * (logP[v] - logQ[v]);
  }
  return Math.max(0, kl);
}

/** Linear-interpolated percentile (q in [0,100]) of a sorted array. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (!sorted.length) return NaN;
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos),
    hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Running accumulator of NLL for perplexity: exp(mean NLL). */
export class PerplexityMeter {
  private sum = 0;
  private n = 0;
  /** Adds the NLL of `target` under one log-probability row. */
  add(logProbs: Float64Array, target: number): void {
    this.sum -= logProbs[target];
    this.n++;
  }
  get tokens(): number {
    return this.n;
  }
  get perplexity(): number {
    return this.n ? Math.exp(this.sum / this.n) : NaN;
  }
}

/** Collects per-token KL values and argmax agreement between a reference and a candidate. */
export class AgreementMeter {
  private kls: number[] = [];
  private agree = 0;
  add(logP: Float64Array, logQ: Float64Array, topP: number, topQ: number): void {
    this.kls.push(klDivergence(logP, logQ));
    if (topP === topQ) this.agree++;
  }
  get tokens(): number {
    return this.kls.length;
  }
  /** KL summary: mean, p50, p99, max. */
  klSummary(): { mean: number; p50: number; p99: number; max: number } {
    const s = Float64Array.from(this.kls).sort();
    let sum = 0;
    for (const v of s) sum += v;
    return { mean: s.length ? sum / s.length : NaN, p50: percentile(s, 50), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : NaN };
  }
  get top1Agreement(): number {
    return this.kls.length ? this.agree / this.kls.length : NaN;
  }
}
