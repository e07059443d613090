/**
 * Activation samples JSQ reads (collected only for its layers' inputs): the positional mean of the
 * calibration windows, X̄[t] = mean over windows of x[t] (the JSQ authors' `inp_sum / inp_num`, the
 * matrix its output-range saliency runs on), and the first calibration tokens as they are (the rows
 * the activation editor's clip search is scored on). O(positions·n + rows·n) memory.
 */
export class TokenSample {
  /** Σ over windows of x at each position t < positions (row-major positions×n). */
  readonly posSum: Float64Array;
  readonly posCount: Float64Array;
  /** The first `maxRows` token rows seen, row-major. */
  readonly rows: Float32Array;
  rowCount = 0;

  constructor(
    readonly n: number,
    readonly positions = 128,
    readonly maxRows = 512,
  ) {
    this.posSum = new Float64Array(positions * n);
    this.posCount = new Float64Array(positions);
    this.rows = new Float32Array(maxRows * n);
  }

  /** Adds `tokens` rows of a row-major tokens×n block made of windows `period` tokens long. */
  add(x: Float32Array, tokens: number, period = tokens): void {
    const { n, positions, posSum, posCount } = this;
    if (!(period > 0)) throw new Error(`token sample: window length must be > 0, got ${period}`);
    for (let t = 0; t < tokens; t++) {
      const p = t % period;
      if (p < positions) {
        const o = p * n,
          src = t * n;
        for (let j = 0; j < n; j++) posSum[o + j] += x[src + j];
        posCount[p]++;
      }
    }
    const take = Math.min(tokens, this.maxRows - this.rowCount);
    if (take > 0) {
      this.rows.set(x.subarray(0, take * n), this.rowCount * n);
      this.rowCount += take;
    }
  }

  /** The positional mean X̄ over the positions seen (rows = the leading positions with data). */
  mean(): { rows: number; data: Float64Array } {
    let rows = 0;
    while (rows < this.positions && this.posCount[rows] > 0) rows++;
    const data = new Float64Array(rows * this.n);
    for (let t = 0; t < rows; t++) for (let j = 0; j < this.n; j++) data[t * this.n + j] = this.posSum[t * this.n + j] / this.posCount[t];
    return { rows, data };
  }

  /** The raw token rows collected. */
  tokens(): { rows: number; data: Float32Array } {
    return { rows: this.rowCount, data: this.rows.subarray(0, this.rowCount * this.n) };
  }
}
