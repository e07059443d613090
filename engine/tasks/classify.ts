/** Classification accuracy helpers: top-k accuracy against labels and top-1 agreement between models. */
import { argmax } from './agreement';

/** Indices of the k largest values of one row, largest first (ties: lower index first). */
export function topK(row: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  idx.sort((a, b) => row[b] - row[a] || a - b);
  return idx.slice(0, k);
}

/**
 * Top-k accuracy of logits [N, C] (row-major) against integer labels; returns fractions for each k.
 */
export function topKAccuracy(
  logits: Float32Array,
  classes: number,
  labels: ArrayLike<number>,
  ks: number[] = [1, 5],
): Record<number, number> {
  const n = logits.length / classes;
  if (!Number.isInteger(n) || n !== labels.length)
    throw new Error(`accuracy: ${logits.length} logits are not ${labels.length} rows of ${classes}`);
  const hits: Record<number, number> = {};
  for (const k of ks) hits[k] = 0;
  const kMax = Math.max(...ks);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const top = kMax === 1 ? [argmax(row)] : topK(row, kMax);
    for (const k of ks) if (top.slice(0, k).includes(labels[i])) hits[k]++;
  }
  for (const k of ks) hits[k] = n ? hits[k] / n : 0;
  return hits;
}
