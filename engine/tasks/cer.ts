/** Character error rate: Levenshtein distance over Unicode code points, normalized by reference length. */

/** Edit distance (insertions, deletions, substitutions cost 1) between two code-point sequences. */
export function editDistance(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const cur = [i];
    for (let j = 1; j <= y.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[y.length];
}

/**
 * Corpus CER = Σ editDistance(hyp, ref) / Σ |ref| (code points), the usual OCR definition
 * (not the mean of per-line CERs). Returns 0 for an empty reference set with empty hypotheses.
 */
export function characterErrorRate(hypotheses: string[], references: string[]): number {
  if (hypotheses.length !== references.length) throw new Error(`CER: ${hypotheses.length} hypotheses for ${references.length} references`);
  let errors = 0;
  let chars = 0;
  for (let i = 0; i < references.length; i++) {
    errors += editDistance(hypotheses[i], references[i]);
    chars += Array.from(references[i]).length;
  }
  if (chars === 0) return errors === 0 ? 0 : 1;
  return errors / chars;
}
