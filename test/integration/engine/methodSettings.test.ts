/**
 * The activation-aware settings read before the kernels (PREPARE_STEP of
 * test/unit/engine/quantize/methodSettings.test.ts) change the folded model on the real stories260K:
 * the scale search's grid, SmoothQuant's α, OS+'s shift and threshold steps, and the activation bits.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { prepareActivationAware } from '../../../engine/quantize/activationAware';
import type { OnnxModel } from '../../../engine/onnx/model';
import type { InputStatistics } from '../../../engine/calibrate/inputStatistics';
import { METHOD_INFO } from '../../../recipe/schema';
import type { Method } from '../../../protocol/plan';
import { PREPARE_STEP } from '../../fixtures/prepareStepSettings';
import { calibratedStories } from './activationAwareFixture';
import { layerPlans } from './planFixture';
import { skipNoShared } from './sharedFixtures';

/** The changed value of each prepare-step setting. */
const CHANGES: Record<string, unknown> = {
  'awq.n_grid': 2,
  'smoothquant.alpha': 0.85,
  'smoothquant.activation_bits': 8,
  'osplus.shift': true,
  'osplus.steps': 1,
  'osplus.activation_bits': 8,
  'jsq.rho': 0,
  'jsq.alpha': 0.85,
  'jsq.activation_bits': 0,
  'jsq.clip_max': 0,
  'jsq.pruner': 'sparsegpt',
};
const LAYERS = ['layers.0.wq', 'layers.0.wk', 'layers.0.wv', 'layers.0.w1', 'layers.0.w3'];

describe('activation-aware settings change the folded model', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let stats: Map<string, InputStatistics>;
  before(async () => ({ model, stats } = await calibratedStories()));

  const folded = async (method: Method, settings: Record<string, unknown>): Promise<string> => {
    const layers = layerPlans(method, 4, 32, LAYERS, settings).map((l) =>
      METHOD_INFO[method].prunes ? { ...l, sparsity: { ratio: 0.5 } } : l,
    );
    const prep = await prepareActivationAware({ layers, model, stats, threads: 1 });
    return createHash('sha256')
      .update(prep.model.serialize())
      .update(JSON.stringify([...prep.details]))
      .digest('hex');
  };

  for (const [method, keys] of Object.entries(PREPARE_STEP) as [Method, readonly string[]][]) {
    test(`${method}: ${keys.join(', ')}`, async () => {
      const base = await folded(method, {});
      for (const key of keys) {
        assert.ok(key in METHOD_INFO[method].settings, `${method}.${key} is not a schema setting`);
        const value = CHANGES[`${method}.${key}`];
        assert.notEqual(value, undefined, `${method}.${key}: no changed value in this test`);
        assert.notEqual(
          await folded(method, { [key]: value }),
          base,
          `${method}.${key} → ${JSON.stringify(value)} did not change the folded model`,
        );
      }
    });
  }
});
