import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runSensitivity, type SensitivityUpdate } from '../../../engine/sensitivity';
import { layerPlans, storiesPlan } from './planFixture';
import { skipNoShared } from './sharedFixtures';

describe('runSensitivity on stories260K', { skip: skipNoShared }, () => {
  test('proxy for every layer at once, then measured KL layer by layer', async () => {
    const names = ['layers.0.wv', 'layers.0.w2', 'layers.4.w1', 'output'];
    const plan = storiesPlan({ layers: [...layerPlans('rtn', 2, 32, names)] });
    plan.evaluation = { ...plan.evaluation, samples: 4 } as typeof plan.evaluation;
    const updates: SensitivityUpdate[] = [];
    const entries = await runSensitivity(plan, { onUpdate: (u) => updates.push({ ...u, entries: u.entries.map((e) => ({ ...e })) }) });
    assert.deepEqual(
      entries.map((e) => e.layer),
      names,
    );
    assert.equal(updates[0].phase, 'proxy');
    assert.ok(updates[0].entries.every((e) => e.proxy > 0 && e.kl === undefined));
    assert.deepEqual(
      updates.slice(1).map((u) => u.layer),
      names,
    );
    assert.deepEqual(
      updates.slice(1).map((u) => u.done),
      [1, 2, 3, 4],
    );
    for (const e of entries) assert.ok(e.kl! > 0, `${e.layer} kl ${e.kl}`);
    // 2-bit on one layer hurts; not all layers equally.
    const kls = entries.map((e) => e.kl!);
    assert.ok(Math.max(...kls) > 2 * Math.min(...kls));
  });
  test('cancellation stops the per-layer loop', async () => {
    const plan = storiesPlan({ layers: layerPlans('rtn', 2, 32, ['layers.0.wv', 'layers.1.wv', 'layers.2.wv']) });
    const ac = new AbortController();
    await assert.rejects(
      runSensitivity(plan, {
        signal: ac.signal,
        onUpdate: (u) => {
          if (u.phase === 'kl') ac.abort();
        },
      }),
      { name: 'AbortError' },
    );
  });
});
