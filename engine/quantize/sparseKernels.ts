/**
 * The pruning methods' kernels (docs/algorithms.md §8): SparseGPT (the GPTQ solve with a mask, joint
 * pruning + quantization), Wanda (|W|·‖X_j‖₂ per output row) and magnitude (|W|), the last two with RTN
 * of the survivors. Each reports the measured sparsity and a downsampled kept/pruned map.
 */
import type { SparsityPlan } from '../../protocol/plan';
import type { SparsityDetails } from '../../protocol/report';
import * as native from '../../native/ts/index';
import { methodDefaults } from '../../recipe/schema';
import type { ResolvedMethodSettings } from '../../recipe/recipe.types';
import { settingsOf } from './methodSettings';
import type { Kernel, KernelContext } from './kernelTypes';

const DENSE: SparsityPlan = { ratio: 0 };

/** The recipe pattern of a plan's sparsity, as the report shows it. */
export function sparsityPattern(s: SparsityPlan): string {
  return 'ratio' in s ? String(s.ratio) : `${s.n}:${s.m}`;
}

/** Cell means of `v` (rows×cols) on a grid of at most `max`×`max` cells (the kept fraction for a 0/1 mask). */
export function maskMap(v: ArrayLike<number>, rows: number, cols: number, max = 32, digits = 3): SparsityDetails['mask'] {
  const gr = Math.min(rows, max),
    gc = Math.min(cols, max);
  const sum = new Float64Array(gr * gc),
    count = new Float64Array(gr * gc);
  for (let r = 0; r < rows; r++) {
    const cr = Math.floor((r * gr) / rows);
    for (let c = 0; c < cols; c++) {
      const i = cr * gc + Math.floor((c * gc) / cols);
      sum[i] += v[r * cols + c]!;
      count[i]++;
    }
  }
  return { rows: gr, cols: gc, values: Array.from(sum, (x, i) => Number((x / count[i]!).toPrecision(digits))) };
}

/** A pruned layer's report: pattern, measured pruned fraction, the mask map and the Hessian saliency map. */
export function sparsityDetails(ctx: KernelContext, keep: Uint8Array): SparsityDetails {
  const { layer, weight } = ctx;
  const { rows, cols, data } = weight;
  let kept = 0;
  for (const k of keep) kept += k;
  const h = ctx.input?.hessian.matrix();
  const sal = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sal[r * cols + c] = data[r * cols + c]! ** 2 * (h ? h[c * cols + c]! : 1);
  return {
    pattern: sparsityPattern(layer.sparsity ?? DENSE),
    pruned: 1 - kept / keep.length,
    mask: maskMap(keep, rows, cols),
    saliency: maskMap(sal, rows, cols, 32, 4),
  };
}

function hessianOf(ctx: KernelContext, method: string): native.Hessian {
  if (!ctx.input)
    throw new Error(`layer ${ctx.layer.name}: method ${method} needs calibration statistics, but none were collected for its input`);
  return ctx.input.hessian;
}

const sparsegpt: Kernel = async (ctx) => {
  const { layer, weight } = ctx;
  const H = hessianOf(ctx, 'sparsegpt');
  // SmoothQuant/AWQ with `sparsity_method: sparsegpt` run this on the scaled layer with SparseGPT's defaults.
  const s =
    layer.method === 'sparsegpt' ? settingsOf(layer, 'sparsegpt') : (methodDefaults('sparsegpt') as ResolvedMethodSettings['sparsegpt']);
  const sparse = layer.sparsity && !('ratio' in layer.sparsity && layer.sparsity.ratio === 0) ? layer.sparsity : undefined;
  const r = await native.gptq(
    weight.data,
    weight.rows,
    weight.cols,
    H,
    { bits: layer.bits, groupSize: layer.groupSize, symmetric: layer.symmetric, damp: s.damp, blockSize: s.block_size, sparsity: sparse },
    { signal: ctx.signal, threads: ctx.threads, onProgress: (done, total) => ctx.onProgress?.(total ? done / total : 0) },
  );
  const keep = r.keep ?? new Uint8Array(weight.rows * weight.cols).fill(1);
  return {
    dequant: r.dequant,
    q: r,
    details: {
      gptq: { loss: r.loss, damp: r.damp, damp_retries: r.dampRetries },
      ...(sparse ? { sparsity: sparsityDetails(ctx, keep) } : {}),
    },
  };
};

/** ‖X_j‖₂ up to a common factor: H = 2/N·Σ x xᵀ, so √H_jj ∝ ‖X_j‖₂ (the per-row ranking ignores the factor). */
function columnNorms(H: native.Hessian, cols: number): Float64Array {
  const m = H.matrix();
  return Float64Array.from({ length: cols }, (_, j) => Math.sqrt(Math.max(0, m[j * cols + j]!)));
}

const oneShot =
  (method: 'wanda' | 'magnitude'): Kernel =>
  async (ctx) => {
    const { layer, weight } = ctx;
    const colScale = method === 'wanda' ? columnNorms(hessianOf(ctx, 'wanda'), weight.cols) : null;
    const scope = method === 'wanda' ? 'row' : settingsOf(layer, 'magnitude').scope;
    const r = await native.pruneRtn(
      weight.data,
      weight.rows,
      weight.cols,
      colScale,
      { bits: layer.bits, groupSize: layer.groupSize, symmetric: layer.symmetric, sparsity: layer.sparsity ?? DENSE, scope },
      { signal: ctx.signal, threads: ctx.threads },
    );
    return { dequant: r.dequant, q: r, details: layer.sparsity ? { sparsity: sparsityDetails(ctx, r.keep) } : {} };
  };

/** The pruning kernels, for the kernel table. */
export const sparseKernels = { sparsegpt, wanda: oneShot('wanda'), magnitude: oneShot('magnitude') };

/** Whether the plan prunes the layer (a non-zero sparsity). */
export function prunesLayer(layer: KernelContext['layer']): boolean {
  const s = layer.sparsity;
  return Boolean(s) && !(s && 'ratio' in s && s.ratio === 0);
}

/**
 * Pruning after SmoothQuant/AWQ scaling: the context holds the folded weight W·diag(s) and the
 * statistics of the scaled input x/s, so Wanda ranks |W̃_ij|·‖X̃_j‖₂ and SparseGPT solves under H̃.
 */
export function pruneScaled(ctx: KernelContext, how: 'wanda' | 'sparsegpt'): ReturnType<Kernel> {
  return sparseKernels[how](ctx);
}
