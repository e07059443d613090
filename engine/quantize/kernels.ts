/**
 * Method → native kernel. One entry per method of protocol/plan.ts METHODS; a method whose kernel is
 * not in this build throws a clear error (never a silent fallback to another method).
 */
import type { Method } from '../../protocol/plan';
import * as native from '../../native/ts/index';
import { binaryLowRankKernels } from './binaryLowRankKernels';
import { gptqSliced } from './gptqRows';
import { adaroundKernel, hqqKernel } from './roundingKernels';
import { jsqKernel } from './jsq';
import { pruneScaled, prunesLayer, sparseKernels } from './sparseKernels';
import { settingsOf } from './methodSettings';
import type { InputStatistics } from '../calibrate/inputStatistics';
import type { Kernel, KernelContext, LayerWeight, PreparedDetails } from './kernelTypes';

export type { Kernel, KernelContext, KernelOutput, LayerWeight } from './kernelTypes';

/** Thrown for a method whose kernel is not part of this build. */
export class NotImplementedError extends Error {
  constructor(method: string, layer: string) {
    super(`layer ${layer}: method "${method}" is not implemented in this build`);
    this.name = 'NotImplementedError';
  }
}

function requireHessian(ctx: KernelContext, method: string): InputStatistics {
  if (!ctx.input)
    throw new Error(`layer ${ctx.layer.name}: method ${method} needs calibration statistics, but none were collected for its input`);
  return ctx.input;
}

const rtn: Kernel = async ({ layer, weight, signal, threads }) => {
  const q = await native.rtn(
    weight.data,
    weight.rows,
    weight.cols,
    {
      bits: layer.bits,
      groupSize: layer.groupSize,
      symmetric: layer.symmetric,
      mseClip: layer.method === 'rtn' ? settingsOf(layer, 'rtn').mse_clip : false,
    },
    { signal, threads },
  );
  return { dequant: q.dequant, q };
};

const gptq: Kernel = async (ctx) => {
  const { layer, weight } = ctx;
  const input = requireHessian(ctx, 'gptq');
  const s = settingsOf(layer, 'gptq');
  const o = {
    bits: layer.bits,
    groupSize: layer.groupSize,
    symmetric: layer.symmetric,
    damp: s.damp,
    blockSize: s.block_size,
    actOrder: s.act_order,
    staticGroups: s.static_groups,
  };
  const ctl = {
    signal: ctx.signal,
    threads: ctx.threads,
    onProgress: (done: number, total: number) => ctx.onProgress?.(total ? done / total : 0),
  };
  if (s.asymmetric && !input.cross)
    throw new Error(
      `layer ${layer.name}: gptq asymmetric (GPTAQ) needs the float model's inputs next to the quantized-prefix ones, which only sequential calibration (calibration.mode: sequential) collects, for MatMul/Gemm layers (not Conv yet)`,
    );
  const r = s.asymmetric
    ? await native.gptaq(weight.data, weight.rows, weight.cols, input.hessian, input.cross!, { ...o, alpha: s.asymmetric_alpha }, ctl)
    : await gptqSliced(weight.data, weight.rows, weight.cols, input.hessian, o, ctl);
  const details: PreparedDetails = { gptq: { loss: r.loss, damp: r.damp, damp_retries: r.dampRetries } };
  if (s.asymmetric)
    details.gptaq = { alpha: s.asymmetric_alpha, cross_ratio: frobenius(input.cross!.matrix()) / frobenius(input.hessian.matrix()) };
  return { dequant: r.dequant, q: r, details };
};

function frobenius(m: Float64Array): number {
  let s = 0;
  for (const v of m) s += v * v;
  return Math.sqrt(s);
}

function requirePrepared(ctx: KernelContext, method: string): PreparedDetails {
  if (!ctx.prepared)
    throw new Error(
      `layer ${ctx.layer.name}: method ${method} needs its activation-aware scaling folded first (prepareActivationAware, or the prepare step of calibrate/sequential.ts)`,
    );
  return ctx.prepared;
}

/** q/k projections are skipped by AWQ's clip search (auto_clip.py L75). */
const QK = /(^|[._/])(wq|wk|q_proj|k_proj|query|key)([._/]|$)/i;

/** AWQ on the folded weight: RTN, after a per-group clip search (§3a) under the rescaled Hessian. */
const awq: Kernel = async (ctx) => {
  const { layer, weight } = ctx;
  const prep = requirePrepared(ctx, 'awq');
  const input = requireHessian(ctx, 'awq');
  const alpha = prep.awq?.alpha ?? 0;
  const settings = settingsOf(layer, 'awq');
  if (prunesLayer(layer)) {
    // Pruned after the scale search; the clip search (a dense-grid search) is skipped.
    const r = await pruneScaled(ctx, settings.sparsity_method);
    return { ...r, details: { ...r.details, awq: { alpha } } };
  }
  if (!settings.clip || QK.test(layer.name)) {
    const r = await rtn(ctx);
    return { ...r, details: { awq: { alpha } } };
  }
  // The scale was already searched and folded for the whole group: grid 1 (α = 0, s = 1) runs only the clip search.
  const r = await native.awqSearch(
    weight.data,
    weight.rows,
    weight.cols,
    input.hessian.matrix(),
    new Float32Array(weight.cols).fill(1),
    {
      bits: layer.bits,
      groupSize: layer.groupSize,
      symmetric: layer.symmetric,
      grid: 1,
      clip: true,
    },
    { signal: ctx.signal, threads: ctx.threads },
  );
  let sum = 0;
  for (const c of r.clipRatios) sum += c;
  return { dequant: r.weight.dequant, q: r.weight, details: { awq: { alpha, clip_ratio: sum / r.clipRatios.length } } };
};

/** SmoothQuant / OS+ on the folded weight: RTN (activation QDQ, if any, is already in the graph). */
const smoothed =
  (method: 'smoothquant' | 'osplus'): Kernel =>
  async (ctx) => {
    const prep = requirePrepared(ctx, method);
    if (method === 'smoothquant' && prunesLayer(ctx.layer)) {
      requireHessian(ctx, 'smoothquant with sparsity');
      const r = await pruneScaled(ctx, settingsOf(ctx.layer, 'smoothquant').sparsity_method);
      return { ...r, details: { ...r.details, smoothing: prep.smoothing } };
    }
    const r = await rtn(ctx);
    return { ...r, details: { smoothing: prep.smoothing } };
  };

/** The kernel table. Methods missing here are reported by `kernelFor`. */
const KERNELS: Partial<Record<Method, Kernel>> = {
  rtn,
  gptq,
  awq,
  smoothquant: smoothed('smoothquant'),
  osplus: smoothed('osplus'),
  ...binaryLowRankKernels((ctx) => ctx.input?.hessian.matrix() ?? null),
  hqq: hqqKernel,
  adaround: adaroundKernel,
  ...sparseKernels,
  jsq: jsqKernel,
};

/** The kernel for `method`, or a NotImplementedError naming the layer. */
export function kernelFor(method: Method, layer: string): Kernel {
  const k = KERNELS[method];
  if (!k) throw new NotImplementedError(method, layer);
  return k;
}

/** Whether the method reads the layer's calibration statistics. */
export function needsCalibration(method: Method): boolean {
  return method !== 'rtn' && method !== 'hqq' && method !== 'magnitude';
}

/** tr(ΔHΔᵀ)/tr(WHWᵀ) under the layer input's Hessian (native). */
export function relativeError(w: LayerWeight, dequant: Float32Array, input: InputStatistics, threads = 0): number {
  return native.relativeError(w.data, dequant, w.rows, w.cols, input.hessian, threads);
}
