/**
 * Kernels of the rounding-optimization methods: HQQ (data-free zero-point optimization) and layer-wise
 * AdaRound (learned up/down rounding on an RTN or GPTQ grid under the calibration Hessian).
 */
import * as native from '../../native/ts/index';
import { settingsOf } from './methodSettings';
import type { Kernel, KernelContext } from './kernelTypes';

function progressOf(ctx: KernelContext): native.JobControl {
  return { signal: ctx.signal, threads: ctx.threads, onProgress: (done, total) => ctx.onProgress?.(total ? done / total : 0) };
}

/** HQQ: the layer's bits and group size; asymmetric by construction (it optimizes the zero point). */
export const hqqKernel: Kernel = async (ctx) => {
  const { layer, weight } = ctx;
  const s = settingsOf(layer, 'hqq');
  if (layer.symmetric)
    throw new Error(`layer ${layer.name}: hqq optimizes the zero point, so it cannot be symmetric (set symmetric: false, or use rtn)`);
  const r = await native.hqq(
    weight.data,
    weight.rows,
    weight.cols,
    {
      bits: layer.bits,
      groupSize: layer.groupSize,
      iterations: s.iterations,
      lpNorm: s.lp_norm,
      beta: s.beta,
      kappa: s.kappa,
      integerZero: s.zero_point === 'integer',
    },
    progressOf(ctx),
  );
  return {
    dequant: r.dequant,
    q: r,
    details: { hqq: { iterations: r.iterations, objective: r.objective, final: r.final, zero_point: s.zero_point } },
  };
};

/** AdaRound on the grid of RTN or GPTQ (GPTQ's damp 0.01, block 128), under the layer's Hessian. */
export const adaroundKernel: Kernel = async (ctx) => {
  const { layer, weight } = ctx;
  const s = settingsOf(layer, 'adaround');
  if (!ctx.input)
    throw new Error(`layer ${layer.name}: method adaround needs calibration statistics, but none were collected for its input`);
  if (s.beta_end > s.beta_start)
    throw new Error(`layer ${layer.name}: adaround's beta_end (${s.beta_end}) must not exceed beta_start (${s.beta_start})`);
  const H = ctx.input.hessian.matrix();
  const gridOpts = { bits: layer.bits, groupSize: layer.groupSize, symmetric: layer.symmetric };
  const ctl = { signal: ctx.signal, threads: ctx.threads };
  const base =
    s.base === 'gptq'
      ? await native.gptq(weight.data, weight.rows, weight.cols, H, { ...gridOpts, damp: 0.01, blockSize: 128 }, ctl)
      : await native.rtn(weight.data, weight.rows, weight.cols, gridOpts, ctl);
  const r = await native.adaround(
    weight.data,
    weight.rows,
    weight.cols,
    H,
    { bits: layer.bits, groupSize: base.groupSize, scales: base.scales, zeros: base.zeros },
    { iterations: s.iterations, lambda: s.lambda, betaStart: s.beta_start, betaEnd: s.beta_end, warmup: s.warmup, lr: s.lr },
    progressOf(ctx),
  );
  const q = { ...r, symmetric: layer.symmetric };
  return {
    dequant: r.dequant,
    q,
    details: {
      adaround: {
        flips: r.flips,
        flip_fraction: r.flips / (weight.rows * weight.cols),
        loss_nearest: r.lossNearest,
        loss: r.loss,
        iterations: r.iterations,
        base: s.base,
      },
    },
  };
};
