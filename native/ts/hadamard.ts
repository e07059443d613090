/** Typed wrapper of the native fast Walsh–Hadamard transform (native/src/core/hadamard.cc). */
import { loadAddon, LowbitKernelError } from './addon';

interface Addon {
  fwhtRows(v: Float64Array, rows: number, p: number, m: number, threads: number): void;
}

/**
 * In place: each of `rows` rows of p·m values, viewed as [p, m], is multiplied along its p axis by
 * Sylvester's unnormalized H_p (p a power of two).
 */
export function fwhtRows(v: Float64Array, rows: number, p: number, m = 1, threads = 0): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(p) || p < 1 || (p & (p - 1)) !== 0 || !Number.isInteger(m) || m < 1)
    throw new LowbitKernelError(`fwhtRows: rows ${rows}, p ${p} (a power of two), m ${m} (≥ 1)`, 'E_ARG');
  if (v.length !== rows * p * m) throw new LowbitKernelError(`fwhtRows: v has ${v.length} values, expected ${rows}·${p}·${m}`, 'E_SHAPE');
  if (!rows) return;
  try {
    loadAddon<Addon>('fwhtRows').fwhtRows(v, rows, p, m, threads);
  } catch (e) {
    const err = e as Error & { code?: string };
    throw new LowbitKernelError(`fwhtRows: ${err.message}`, err.code ?? 'E_ARG');
  }
}
