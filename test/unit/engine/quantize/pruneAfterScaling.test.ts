/**
 * Pruning after SmoothQuant / AWQ scaling (kernels.ts → sparseKernels.pruneScaled): the kernel sees the
 * folded weight W̃ = W·diag(s) and the scaled input's Hessian H̃ = diag(1/s)·H·diag(1/s).
 * Invariants: Wanda's score |W̃_ij|·‖X̃_j‖ = |W_ij|·‖X_j‖, so its mask equals Wanda's on the unscaled
 * layer; `sparsity_method: sparsegpt` is the SparseGPT kernel on the folded layer (its defaults) and keeps
 * the N:M pattern; the layer reports its sparsity and its own method's details.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Hessian } from '../../../../native/ts/index';
import { ChannelStats } from '../../../../engine/calibrate/channelStats';
import type { InputStatistics } from '../../../../engine/calibrate/inputStatistics';
import { kernelFor } from '../../../../engine/quantize/kernels';
import type { KernelContext } from '../../../../engine/quantize/kernelTypes';
import { nativeKernelsAvailable } from '../../../../engine/quantize/native';
import type { LayerPlan, SparsityPlan } from '../../../../protocol/plan';
import { centeredLcg } from '../../../fixtures/lcg';

// 32×32: the report's kept/pruned map (≤ 32×32 cells) is then the exact mask.
const ROWS = 32,
  COLS = 32,
  TOKENS = 256;
let w: Float32Array, s: Float32Array, input: InputStatistics, scaled: InputStatistics;

async function setup(): Promise<void> {
  const r = centeredLcg(7);
  w = Float32Array.from({ length: ROWS * COLS }, () => r());
  const x = Float32Array.from({ length: TOKENS * COLS }, (_, i) => r() * (i % COLS === 5 ? 20 : 1));
  const h = new Hessian(COLS);
  await h.add(x, TOKENS, 1);
  input = { tensor: 'x', n: COLS, hessian: h, stats: new ChannelStats(COLS), layers: ['w'] };
  // Any positive per-channel scale (SmoothQuant's would do): powers of two keep W·diag(s) exact in float32.
  s = Float32Array.from({ length: COLS }, (_, j) => 2 ** ((j % 5) - 2));
  const hs = new Hessian(COLS);
  const H = h.matrix(),
    Hs = hs.matrix();
  for (let a = 0; a < COLS; a++) for (let b = 0; b < COLS; b++) Hs[a * COLS + b] = H[a * COLS + b] / (s[a] * s[b]);
  scaled = { ...input, hessian: hs };
}

function ctx(
  method: 'wanda' | 'smoothquant' | 'awq',
  sparsity: SparsityPlan,
  settings: Record<string, unknown>,
  folded: boolean,
): KernelContext {
  const layer: LayerPlan = { name: 'blk.w', method, bits: 8, groupSize: -1, symmetric: false, settings, sparsity, rules: [] };
  const data = folded ? w.map((v, i) => v * s[i % COLS]) : Float32Array.from(w);
  const c: KernelContext = { layer, weight: { data, rows: ROWS, cols: COLS }, input: folded ? scaled : input, threads: 1 };
  if (method === 'smoothquant') c.prepared = { smoothing: { alpha: 0.5, scale_range: [0.25, 4] } };
  if (method === 'awq') c.prepared = { awq: { alpha: 0.3 } };
  return c;
}

describe('pruning after SmoothQuant / AWQ scaling', { skip: !nativeKernelsAvailable() && 'native addon not built' }, () => {
  before(setup);

  test('Wanda after scaling prunes the same weights as Wanda on the unscaled layer (|W̃|·‖X̃‖ = |W|·‖X‖)', async () => {
    const plain = await kernelFor('wanda', 'blk.w')(ctx('wanda', { ratio: 0.5 }, {}, false));
    for (const method of ['smoothquant', 'awq'] as const) {
      const after = await kernelFor(method, 'blk.w')(ctx(method, { ratio: 0.5 }, { sparsity_method: 'wanda' }, true));
      // The kept/pruned mask (a kept weight may still round to 0 on the scaled grid, so not the zeros).
      assert.deepEqual(after.details?.sparsity?.mask, plain.details?.sparsity?.mask, `${method}: same mask`);
      assert.equal(plain.details?.sparsity?.mask.values.length, ROWS * COLS);
      assert.equal(after.details?.sparsity?.pruned, 0.5);
      assert.ok(method === 'smoothquant' ? after.details?.smoothing : after.details?.awq, `${method}: its own details kept`);
    }
  });

  test('sparsity_method sparsegpt is the SparseGPT kernel on the folded layer, and keeps the 2:4 pattern', async () => {
    const sg = await kernelFor('smoothquant', 'blk.w')(ctx('smoothquant', { n: 2, m: 4 }, { sparsity_method: 'sparsegpt' }, true));
    const folded = ctx('smoothquant', { n: 2, m: 4 }, {}, true);
    const direct = await kernelFor('sparsegpt', 'blk.w')({ ...folded, layer: { ...folded.layer, method: 'sparsegpt', settings: {} } });
    assert.deepEqual(Array.from(sg.dequant), Array.from(direct.dequant));
    for (let g = 0; g < (ROWS * COLS) / 4; g++) {
      let z = 0;
      for (let j = 0; j < 4; j++) z += sg.dequant[4 * g + j] === 0 ? 1 : 0;
      assert.ok(z >= 2, `group ${g}: ${z} zeros`);
    }
    assert.equal(sg.details?.sparsity?.pattern, '2:4');
    assert.ok(sg.details?.gptq && sg.details.smoothing, 'the SparseGPT solve ran; the smoothing details are kept');
  });
});
