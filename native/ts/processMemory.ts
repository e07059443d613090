/**
 * Process-wide allocator settings for long streamed jobs (issue 11), glibc only (elsewhere they do
 * nothing and return false). glibc raises its mmap threshold after every large free (up to 32 MB), so
 * the 1–32 MB blocks allocated later (onnxruntime activations, solver buffers) stay in per-thread heaps
 * when freed: measured, RSS crept up by ~35 MB per repeated GPTQ call and by ~0.2 GB per
 * transformer layer of a streamed job, with no JS object holding it.
 */
import { loadAddon } from './addon';

interface Addon {
  lbMallocPolicy(bytes: number): boolean;
  lbMallocTrim(): boolean;
  lbReleaseScratch(): number;
}

/** Allocations of at least `bytes` (default 1 MiB) get their own mapping, returned to the OS when freed. */
export function returnLargeFrees(bytes = 1 << 20): boolean {
  return loadAddon<Addon>('lbMallocPolicy').lbMallocPolicy(bytes);
}

/** Frees the solvers' pooled scratch buffers, then hands the free memory of every heap back to the OS now (between blocks). */
export function trimHeaps(): boolean {
  return loadAddon<Addon>('lbMallocTrim').lbMallocTrim();
}

/**
 * Frees the solvers' pooled scratch buffers now (GPTQ keeps its large fp64 work buffers for the next
 * call, up to LOWBIT_SCRATCH_MB, default 512); returns the bytes freed. trimHeaps() does this too.
 */
export function releaseScratch(): number {
  return loadAddon<Addon>('lbReleaseScratch').lbReleaseScratch();
}
