/**
 * Streamed AWQ / SmoothQuant on the real stories260K keep one block's folded weights at a time (issue
 * 11): when the stream ends, the running model holds no folded weight of a quantized layer (each one
 * became a getter that rebuilds it; streamFolding.test.ts checks the rebuilt bytes against the
 * whole-model path), only vectors (norms' γ, inserted scales) and the folded weight of a layer that is
 * not quantized (here w3, skipped with w1, which absorbs w2's scale), which the export still writes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Feeds } from '../../../../engine/calibrate/calibrate';
import { calibrationFeeds } from '../../../../engine/calibrate/calibrationData';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import type { LayerPlan } from '../../../../protocol/plan';
import { layerPlans, storiesPlan } from '../planFixture';
import { skipNoShared } from '../sharedFixtures';
import { inMode, streamRun } from './streamRun';

/** Where each initializer of `m` that the input model does not have keeps its bytes: held (a plain value) or rebuilt on read. */
function foldedTensors(m: OnnxModel, input: OnnxModel): { held: Map<string, number>; rebuilt: Set<string> } {
  const original = new Set(input.graph.initializer);
  const held = new Map<string, number>(),
    rebuilt = new Set<string>();
  for (const t of m.graph.initializer) {
    if (original.has(t)) continue;
    const d = Object.getOwnPropertyDescriptor(t, 'rawData');
    if (d?.get) rebuilt.add(t.name);
    else if (d && d.value instanceof Uint8Array) held.set(t.name, d.value.length);
  }
  return { held, rebuilt };
}

describe('streamed folding methods release each block’s folded weights (stories260K)', { skip: skipNoShared }, () => {
  let model: OnnxModel;
  let batches: Feeds[];
  let cacheRoot: string;
  const run = (layers: LayerPlan[], mode: 'parallel' | 'sequential') =>
    streamRun(inMode(storiesPlan({ layers, format: 'matmulnbits' }), mode), model, batches, cacheRoot, { cacheRamBytes: 1 << 20 });
  before(async () => {
    const p = storiesPlan({ layers: layerPlans('awq', 4) });
    model = await loadModel(p.modelPath);
    batches = (await calibrationFeeds(p.calibration, model.summary(), undefined)).batches;
    cacheRoot = mkdtempSync(join(tmpdir(), 'lowbit-stream-release-'));
  });
  after(() => rmSync(cacheRoot, { recursive: true, force: true }));

  for (const [method, mode, settings] of [
    ['awq', 'parallel', {}],
    ['smoothquant', 'sequential', { activation_bits: 8 }],
  ] as const)
    test(`${method}, ${mode}: no folded weight of a quantized layer is held; a skipped layer's is`, async () => {
      // layers.0.w1 and w3 are skipped: w2's scale still folds into w3 (same block), and the export writes it in float.
      const layers = layerPlans(method, 4, 32, undefined, settings).filter((l) => l.name !== 'layers.0.w1' && l.name !== 'layers.0.w3');
      const s = await run(layers, mode);
      const { held, rebuilt } = foldedTensors(s.model, model);
      const quantized = new Set(s.layers.map((l) => l.layer));
      const weightOf = (n: string) => s.model.layer(n).ref.source;
      // Every quantized layer whose weight a fold rewrote (all but those whose scale came out all ones) is released.
      const foldedQuantized = [...quantized].filter((n) => held.has(weightOf(n)) || rebuilt.has(weightOf(n)));
      assert.ok(foldedQuantized.length >= quantized.size / 2, `only ${foldedQuantized.length} of ${quantized.size} weights were folded`);
      for (const n of foldedQuantized) assert.ok(rebuilt.has(weightOf(n)), `${n}: its folded weight is still held`);
      // What stays: the skipped w3 (a whole weight) and vectors.
      assert.equal(held.get(weightOf('layers.0.w3')), 4 * model.layer('layers.0.w3').params);
      const w = Math.min(...[...quantized].map((n) => model.layer(n).params));
      for (const [name, bytes] of held) if (name !== weightOf('layers.0.w3')) assert.ok(bytes < 4 * w, `${name}: ${bytes} bytes held`);
      assert.deepEqual(readdirSync(cacheRoot), []);
    });
});
