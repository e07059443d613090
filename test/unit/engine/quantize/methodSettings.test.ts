/**
 * Every schema method setting reaches its kernel: for each method in METHOD_INFO and each of its
 * settings, the kernel runs once with the schema's defaults and once with the setting changed, on a
 * synthetic layer (weight with outlier columns and a low-rank part, Hessian from activations with
 * outlier channels). A changed setting must change the result; a setting the schema marks `inert`
 * must not. Settings read before the kernels (the activation-aware scale search) are listed in
 * PREPARE_STEP and checked on the real model in test/integration/engine/methodSettings.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { CrossStatistic, Hessian } from '../../../../native/ts/index';
import { ChannelStats } from '../../../../engine/calibrate/channelStats';
import type { InputStatistics } from '../../../../engine/calibrate/inputStatistics';
import { kernelFor } from '../../../../engine/quantize/kernels';
import type { KernelContext, KernelOutput } from '../../../../engine/quantize/kernelTypes';
import { settingsOf } from '../../../../engine/quantize/methodSettings';
import { nativeKernelsAvailable } from '../../../../engine/quantize/native';
import { METHOD_INFO, methodDefaults, type MethodSettingSchema } from '../../../../recipe/schema';
import { METHODS, type LayerPlan, type Method } from '../../../../protocol/plan';
import { centeredLcg } from '../../../fixtures/lcg';
import { PREPARE_STEP } from '../../../fixtures/prepareStepSettings';

/** The changed value of a numeric setting (the default elsewhere is taken from the schema). */
const NUMBER_CHANGES: Record<string, number> = {
  'gptq.damp': 0.5,
  'gptq.block_size': 8,
  'billm.damp': 0.5,
  'billm.block_size': 32,
  'billm.max_salient': 2,
  'pbllm.damp': 0.5,
  'pbllm.low_frac': 0.5,
  'pbllm.high_bits': 3,
  'dualbin.iterations': 0,
  'flrq.max_extra_storage': 2,
  'flrq.blc_epochs': 4,
  'flrq.sketch_iterations': 0,
  'flrq.slope_threshold': 0.9,
  'flrq.activation_exponent': 1,
  'lorc.rank': 2,
  'lqer.rank': 2,
  'hqq.iterations': 0,
  'hqq.lp_norm': 1,
  'hqq.beta': 1,
  'hqq.kappa': 1.5,
  'adaround.iterations': 0,
  'adaround.lambda': 1,
  'adaround.beta_start': 60,
  'adaround.beta_end': 1,
  'adaround.warmup': 0.9,
  'adaround.lr': 0.1,
  'sparsegpt.damp': 0.5,
  'sparsegpt.block_size': 8,
  'gptq.asymmetric_alpha': 1,
};

/** Settings that only act together with others: both runs of such a key get these too. */
const TOGETHER_WITH: Record<string, Record<string, unknown>> = {
  'flrq.slope_threshold': { rank_rule: 'spec' }, // the authors' rank rule has no slope threshold
  'gptq.asymmetric_alpha': { asymmetric: true },
};

/** A value of `f` other than its default, or undefined when the test has none (a new setting). */
function changed(method: Method, key: string, f: MethodSettingSchema): unknown {
  if (f.kind === 'boolean') return !f.default;
  if (f.kind === 'enum') return f.values.find((v) => v !== f.default);
  if (f.kind === 'number' && f.allowed) return f.allowed.find((v) => v !== f.default);
  if (f.kind === 'number') return NUMBER_CHANGES[`${method}.${key}`];
  return undefined;
}

const ROWS = 64,
  COLS = 128,
  TOKENS = 256;
let weight: Float32Array;
let input: InputStatistics;

/** Outlier input channels, a rank-2 part plus noise in W: every method has something to do. */
async function synthetic(): Promise<void> {
  const r = centeredLcg(12);
  weight = new Float32Array(ROWS * COLS);
  const u = Array.from({ length: 2 * ROWS }, r),
    v = Array.from({ length: 2 * COLS }, r);
  for (let i = 0; i < ROWS; i++)
    for (let j = 0; j < COLS; j++)
      weight[i * COLS + j] = 0.1 * r() + 4 * (u[i] * v[j] + 0.7 * u[ROWS + i] * v[COLS + j]) + (j % 16 === 3 ? 0.5 * r() : 0);
  const x = new Float32Array(TOKENS * COLS);
  for (let t = 0; t < TOKENS; t++) for (let j = 0; j < COLS; j++) x[t * COLS + j] = r() * (j % 11 === 5 ? 12 : 1) + (j % 7 === 0 ? 0.8 : 0);
  const hessian = new Hessian(COLS);
  await hessian.add(x, TOKENS, 1);
  const stats = new ChannelStats(COLS);
  stats.add(x, TOKENS);
  // GPTAQ's cross statistic: the "quantized-prefix" inputs drift from x (1.05·x + noise).
  const cross = new CrossStatistic(COLS);
  cross.add(
    x,
    x.map((v) => 1.05 * v + 0.05 * r()),
    TOKENS,
    1,
  );
  input = { tensor: 'x', n: COLS, hessian, stats, layers: ['w'], cross };
}

async function runKernel(method: Method, settings: Record<string, unknown>, sparse = false): Promise<KernelOutput> {
  const info = METHOD_INFO[method];
  const layer: LayerPlan = {
    name: 'w',
    method,
    bits: info.fixedBits ?? 3,
    groupSize: info.fixedBits ? -1 : 32,
    symmetric: false,
    settings,
    rules: [],
    ...(info.prunes || sparse ? { sparsity: { ratio: 0.5 } } : {}),
  };
  const ctx: KernelContext = { layer, weight: { data: Float32Array.from(weight), rows: ROWS, cols: COLS }, input, threads: 1 };
  if (method === 'awq') ctx.prepared = { awq: { alpha: 0 } };
  if (method === 'smoothquant' || method === 'osplus') ctx.prepared = { smoothing: { alpha: 0.5, scale_range: [1, 1] } };
  return kernelFor(method, 'w')(ctx);
}

/** Everything a kernel returns that ends up in the model or the report. */
function fingerprint(o: KernelOutput): string {
  const h = createHash('sha256');
  h.update(new Uint8Array(o.dequant.buffer, o.dequant.byteOffset, o.dequant.byteLength));
  const lr = o.lowRank as { L: Float32Array; R: Float32Array } | undefined;
  if (lr) {
    h.update(new Uint8Array(lr.L.buffer, lr.L.byteOffset, lr.L.byteLength));
    h.update(new Uint8Array(lr.R.buffer, lr.R.byteOffset, lr.R.byteLength));
  }
  h.update(
    JSON.stringify({ details: o.details, bits: o.bitsPerWeight, binary: o.binary && { kind: o.binary.kind, group: o.binary.group } }),
  );
  return h.digest('hex');
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0,
    n = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    n = Math.max(n, Math.abs(a[i]));
  }
  return d / n;
}

describe('method settings reach their kernels', { skip: !nativeKernelsAvailable() && 'native addon not built' }, () => {
  before(synthetic);

  test('settingsOf fills the schema defaults and refuses unknown keys, bad values and another method', () => {
    const layer = (method: Method, settings: Record<string, unknown>) => ({ name: 'blk.0.w', method, settings });
    assert.deepEqual(settingsOf(layer('gptq', { damp: 0.1 }), 'gptq'), { ...methodDefaults('gptq'), damp: 0.1 });
    assert.deepEqual(settingsOf(layer('pbllm', {}), 'pbllm'), methodDefaults('pbllm'));
    assert.throws(
      () => settingsOf(layer('gptq', { dampp: 0.1 }), 'gptq'),
      /layer blk\.0\.w: method gptq has no setting 'dampp' \(it takes: damp, block_size, act_order, static_groups, asymmetric, asymmetric_alpha\)/,
    );
    assert.throws(
      () => settingsOf(layer('pbllm', { high_bits: 9 }), 'pbllm'),
      /layer blk\.0\.w: setting 'high_bits' of method pbllm must be an integer ≥ 2 and ≤ 8, got 9/,
    );
    assert.throws(() => settingsOf(layer('billm', { salient_metric: 'l2' }), 'billm'), /must be one of hessian, magnitude, got "l2"/);
    assert.throws(() => settingsOf(layer('rtn', {}), 'gptq'), /settings of method gptq requested, but the layer is planned with rtn/);
  });

  test('every method setting is covered here, by its kernel or by the prepare step', () => {
    for (const m of METHODS)
      for (const [key, f] of Object.entries(METHOD_INFO[m].settings)) {
        assert.ok('default' in f && f.default !== undefined, `${m}.${key}: the schema states no default`);
        if (PREPARE_STEP[m]?.includes(key)) continue;
        assert.notEqual(changed(m, key, f), undefined, `${m}.${key}: no changed value in this test — add one to NUMBER_CHANGES`);
      }
  });

  for (const method of METHODS) {
    const settings = Object.entries(METHOD_INFO[method].settings).filter(([k]) => !PREPARE_STEP[method]?.includes(k));
    if (!settings.length) continue;
    test(`${method}: ${settings.map(([k]) => k).join(', ')}`, async () => {
      const baseDefault = await runKernel(method, {});
      assert.equal(fingerprint(await runKernel(method, {})), fingerprint(baseDefault), `${method} is not deterministic`);
      for (const [key, f] of settings) {
        const value = changed(method, key, f),
          extra = TOGETHER_WITH[`${method}.${key}`];
        // SmoothQuant/AWQ's sparsity_method acts only on a pruned layer: both runs prune.
        const sparse = key === 'sparsity_method';
        const ref = extra || sparse ? await runKernel(method, extra ?? {}, sparse) : baseDefault;
        const out = await runKernel(method, { ...extra, [key]: value }, sparse);
        if (f.inert) {
          assert.ok(
            maxRelDiff(out.dequant, ref.dequant) < 1e-5,
            `${method}.${key} is marked inert but ${JSON.stringify(value)} changed the weights`,
          );
        } else {
          assert.notEqual(
            fingerprint(out),
            fingerprint(ref),
            `${method}.${key}: ${JSON.stringify(methodDefaults(method)[key])} → ${JSON.stringify(value)} did not change the result`,
          );
        }
      }
    });
  }
});
