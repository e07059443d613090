/**
 * Kernels for the binarization and low-rank methods (native/ts/binaryLowRank.ts): BiLLM, PB-LLM, dual
 * binarization, FLRQ, LoRC, LQER. Recipe settings (snake_case, defaults filled by the plan) map onto
 * the wrapper's options here. Binarized layers carry no integer codes but their compact form (bit
 * planes + parameters, `binary`, for the packed export); low-rank layers carry MatMulNBits-style
 * codes plus L·R factors.
 */
import * as native from '../../native/ts/binaryLowRank';
import type { Method } from '../../protocol/plan';
import { roundToHalf } from '../onnx/tensor';
import { gptq } from '../../native/ts/index';
import type { Kernel, KernelContext, KernelOutput } from './kernelTypes';
import { settingsOf } from './methodSettings';

function common(ctx: KernelContext): native.JobOptions {
  return { signal: ctx.signal, onProgress: ctx.onProgress, layer: ctx.layer.name, threads: ctx.threads };
}

function needH(ctx: KernelContext, hessian: (c: KernelContext) => Float64Array | null): Float64Array {
  const H = hessian(ctx);
  if (!H)
    throw new Error(
      `layer ${ctx.layer.name}: method ${ctx.layer.method} needs the calibration Hessian, but none was collected for its input`,
    );
  return H;
}

function lowRankOutput(r: native.LowRankResult, ctx: KernelContext): KernelOutput {
  const { rows, cols } = ctx.weight;
  return {
    dequant: r.dequant,
    q: { bits: r.bits, groupSize: r.groupSize, rows, cols, codes: r.codes, scales: r.scales, ...(r.zeros ? { zeros: r.zeros } : {}) },
    // Factors are stored in fp16 (FLRQ's d_fp = 16 storage budget); rounding them here keeps the
    // reported error, the bits and the exported model (fp16 initializers + Cast) in agreement.
    lowRank: r.rank > 0 ? { L: roundToHalf(r.L), R: roundToHalf(r.R), rank: r.rank } : undefined,
    // Codes + fp32 scales (+ a zero point per group with 'gptq_asym') + fp16 L·R factors as extra MatMul weights.
    bitsPerWeight:
      r.bits + ((32 + (r.zeros ? r.bits : 0)) * Math.ceil(cols / r.groupSize)) / cols + (16 * r.rank * (rows + cols)) / (rows * cols),
    details: { low_rank: r.details },
  };
}

/** The binarization / low-rank kernels, given how to get a layer's dense float64 Hessian. */
export function binaryLowRankKernels(hessian: (ctx: KernelContext) => Float64Array | null): Partial<Record<Method, Kernel>> {
  return {
    billm: async (ctx) => {
      const s = settingsOf(ctx.layer, 'billm'),
        { data, rows, cols } = ctx.weight;
      const r = await native.billm(data, rows, cols, needH(ctx, hessian), {
        ...common(ctx),
        blockSize: s.block_size,
        percdamp: s.damp,
        salientUpLim: s.max_salient,
        hessianSaliency: s.salient_metric === 'hessian',
      });
      const { sign1, sign2, group: groupBits, salientCols, scales } = r.stored;
      return {
        dequant: r.dequant,
        binary: { kind: 'billm', group: s.block_size, sign1, sign2, groupBits, salientCols, scales },
        details: { binarization: r.details },
      };
    },
    pbllm: async (ctx) => {
      const s = settingsOf(ctx.layer, 'pbllm'),
        { data, rows, cols } = ctx.weight;
      const r = await native.pbllm(data, rows, cols, needH(ctx, hessian), {
        ...common(ctx),
        lowFrac: s.low_frac,
        percdamp: s.damp,
        highBits: s.high_bits,
        hessianSaliency: s.saliency === 'hessian',
        groupSize: ctx.layer.groupSize > 0 ? ctx.layer.groupSize : undefined,
      });
      return {
        dequant: r.dequant,
        binary: {
          kind: 'pbllm',
          group: ctx.layer.groupSize,
          mask: r.mask,
          binParams: r.binParams,
          q8Params: r.q8Params,
          highBits: s.high_bits,
        },
      };
    },
    dualbin: async (ctx) => {
      const s = settingsOf(ctx.layer, 'dualbin'),
        { data, rows, cols } = ctx.weight;
      const group = ctx.layer.groupSize > 0 ? ctx.layer.groupSize : 128;
      // init gptq: the 2-bit asymmetric GPTQ solution (gptq.py defaults), rewritten exactly in FDB form.
      let init: native.DualBinOptions['init'];
      if (s.init === 'gptq') {
        const q = await gptq(
          data,
          rows,
          cols,
          needH(ctx, hessian),
          { bits: 2, groupSize: group >= cols ? -1 : group, symmetric: false },
          { signal: ctx.signal, threads: ctx.threads },
        );
        init = native.fdbFromGrid(q.codes, q.scales, q.zeros, rows, cols, group);
      }
      const r = await native.dualBinarize(data, rows, cols, { ...common(ctx), iters: s.iterations, groupSize: group, init });
      return { dequant: r.dequant, binary: { kind: 'dualbin', group, b1: r.b1, b2: r.b2, alphas: r.alphas } };
    },
    flrq: async (ctx) => {
      const s = settingsOf(ctx.layer, 'flrq'),
        { data, rows, cols } = ctx.weight;
      const r = await native.flrq(data, rows, cols, hessian(ctx), ctx.input?.stats.absMean() ?? null, {
        ...common(ctx),
        bits: ctx.layer.bits,
        groupSize: ctx.layer.groupSize > 0 ? ctx.layer.groupSize : cols,
        budget: s.max_extra_storage,
        blcEpochs: s.blc_epochs,
        sketchIters: s.sketch_iterations,
        slope: s.slope_threshold,
        actScaling: s.activation_scaling,
        actExponent: s.activation_exponent,
        rankRule: s.rank_rule,
        quantizer: s.quantizer,
      });
      return lowRankOutput(r, ctx);
    },
    lorc: async (ctx) => {
      const s = settingsOf(ctx.layer, 'lorc'),
        { data, rows, cols } = ctx.weight;
      const r = await native.lorc(data, rows, cols, hessian(ctx), {
        ...common(ctx),
        bits: ctx.layer.bits,
        groupSize: ctx.layer.groupSize > 0 ? ctx.layer.groupSize : cols,
        rank: s.rank,
        factorBits: s.factor_bits === 8 ? 8 : 0,
        quantizer: s.quantizer,
      });
      return lowRankOutput(r, ctx);
    },
    lqer: async (ctx) => {
      const s = settingsOf(ctx.layer, 'lqer'),
        { data, rows, cols } = ctx.weight;
      const r = await native.lqer(data, rows, cols, hessian(ctx), s.activation_scaled ? (ctx.input?.stats.absMean() ?? null) : null, {
        ...common(ctx),
        bits: ctx.layer.bits,
        groupSize: ctx.layer.groupSize > 0 ? ctx.layer.groupSize : cols,
        rank: s.rank,
        factorBits: s.factor_bits === 8 ? 8 : 0,
        quantizer: s.quantizer,
      });
      return lowRankOutput(r, ctx);
    },
  };
}
