/** The memory plan's choice (whole model, streamed, refused) and its message, on a small Llama with external data. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeLlama } from '../../../../bench/llamaModel';
import type { CalibratedLayer } from '../../../../engine/calibrate/calibrate';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import { formatBytes, planMemory } from '../../../../engine/stream/memoryPlan';
import type { LayerPlan } from '../../../../protocol/plan';

let dir: string, model: OnnxModel, calibrated: CalibratedLayer[], layers: LayerPlan[];
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lowbit-memplan-'));
  writeLlama(join(dir, 'm.onnx'), { layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, vocab: 96, seq: 16, dtype: 'float32' });
  model = await loadModel(join(dir, 'm.onnx'));
  const q = model.layers.filter((l) => l.quantizable && !l.embedding); // embedding tables are opt-in and never calibrated
  calibrated = q.map((l) => ({ name: l.name, input: l.input, cols: l.shape[1] }));
  layers = q.map((l) => ({ name: l.name, method: 'gptq', bits: 4, groupSize: 32, symmetric: false, settings: {}, rules: [0] }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const plan = (budgetBytes: number | undefined, streaming?: 'auto' | 'always' | 'never', ls = layers, sequential = false) =>
  planMemory({
    sequential,
    model,
    plan: { layers: ls, modelPath: 'm.onnx' },
    calibrated,
    tokensPerBatch: 128,
    budgetBytes,
    streaming,
    processBytes: 100e6,
  });

test('whole model when it fits, streamed when only that fits, refused when nothing does', () => {
  const roomy = plan(1e12);
  assert.equal(roomy.mode, 'whole');
  assert.equal(roomy.blocks, 5);
  assert.match(roomy.message, /^memory: budget 1\.0 TB; whole model ~\d+ MB: fits, one whole-model pass \(fits\)$/);
  assert.ok(roomy.streamedBytes < roomy.wholeBytes);
  // Between the two estimates: streamed, and the rest of the budget is the cache's RAM share.
  const mid = Math.round((roomy.streamedBytes + roomy.wholeBytes) / 2);
  const s = plan(mid);
  assert.equal(s.mode, 'streamed');
  assert.equal(s.cacheRamBytes, mid - s.streamedBytes);
  assert.match(
    s.message,
    /streaming 5 blocks, ~\d+ MB at most \(largest block \d: layers\.\d\.w1 … layers\.\d\.w2\), activation cache \d+ (KB|B) in RAM, the rest on disk$/,
  );
  assert.throws(
    () => plan(roomy.streamedBytes - 1),
    /m\.onnx: does not fit the memory budget of .*: the whole model needs ~.* and streaming ~.* \(largest block \d: .*\); raise memory\.budget_mb or --memory/,
  );
});

test('streaming always / never override the choice; AWQ streams with its folded weights counted; GPTAQ streams in sequential mode only', () => {
  assert.equal(plan(1e12, 'always').mode, 'streamed');
  assert.equal(plan(1, 'never').mode, 'whole');
  assert.match(plan(1, 'never').message, /over budget, one whole-model pass \(streaming is off\)/);
  const awq = layers.map((l, i) => (i === 3 ? { ...l, method: 'awq' as const } : l));
  const mid = Math.round((plan(1e12).streamedBytes + plan(1e12).wholeBytes) / 2);
  // AWQ on wo (its scale goes into an inserted Mul in the same block) streams. wo's folded weight is
  // held only while its (attention) block is quantized, then released: with its rescaled Hessian that
  // block stays smaller than the MLP block, so the estimate does not move.
  const awqPlan = plan(mid, 'auto', awq);
  assert.equal(awqPlan.mode, 'streamed');
  assert.equal(awqPlan.streamedBytes, plan(mid).streamedBytes);
  assert.equal(plan(mid, 'always', awq).mode, 'streamed');
  // w2's scale folds into w3: the largest (MLP) block holds both folded weights and w2's rescaled Hessian.
  const awqW2 = layers.map((l) => (l.name === 'layers.0.w2' ? { ...l, method: 'awq' as const } : l));
  const w2Cols = model.layer('layers.0.w2').shape[1];
  assert.equal(
    plan(mid, 'auto', awqW2).streamedBytes - plan(mid).streamedBytes,
    4 * (model.layer('layers.0.w2').params + model.layer('layers.0.w3').params) + 8 * w2Cols * w2Cols,
  );
  // Parallel GPTAQ: no FP stream beside the quantized one (only sequential calibration collects it).
  const gptaq = layers.map((l, i) => (i === 3 ? { ...l, method: 'gptq' as const, settings: { asymmetric: true } } : l));
  assert.equal(plan(mid, 'auto', gptaq).mode, 'whole');
  assert.match(plan(mid, 'auto', gptaq).message, /\(gptq asymmetric \(GPTAQ\) does not stream\)/);
  assert.throws(
    () => plan(mid, 'always', gptaq),
    /layers\.0\.wo uses gptq asymmetric \(GPTAQ\), which does not stream in parallel mode \(it needs the float inputs too/,
  );
  // Sequential (GPTAQ's only mode): it streams, with its cross statistic D counted in its block.
  const seqGptaq = plan(mid, 'auto', gptaq, true);
  assert.equal(seqGptaq.mode, 'streamed');
  const seqPlain = plan(mid, 'auto', layers, true);
  // All GPTAQ: the largest (MLP) block adds D of its two inputs (ffn_norm's output, the SwiGLU product).
  const allGptaq = layers.map((l) => ({ ...l, settings: { asymmetric: true } }));
  const [d, f] = [model.layer('layers.0.w1').shape[1], model.layer('layers.0.w2').shape[1]];
  assert.equal(plan(mid, 'auto', allGptaq, true).streamedBytes - seqPlain.streamedBytes, 8 * (d * d + f * f));
  const plainGptq = layers.map((l, i) => (i === 3 ? { ...l, method: 'gptq' as const, settings: { asymmetric: false } } : l));
  assert.equal(plan(1e12, 'always', plainGptq).mode, 'streamed');
});

test('sequential calibration streams even when the whole model fits (its linear path), AWQ too, unless streaming: never', () => {
  const seq = plan(1e12, 'auto', layers, true);
  assert.equal(seq.mode, 'streamed');
  assert.match(seq.message, /: streaming 5 blocks \(sequential calibration: one pass per block\), ~\d+ MB at most/);
  assert.equal(plan(1e12, 'never', layers, true).mode, 'whole');
  const awq = layers.map((l, i) => (i === 3 ? { ...l, method: 'awq' as const } : l));
  assert.equal(plan(1e12, 'auto', awq, true).mode, 'streamed');
  assert.equal(plan(1e12, 'never', awq, true).mode, 'whole');
  // Parallel calibration keeps the whole-model pass when it fits.
  assert.equal(plan(1e12, 'auto', layers, false).mode, 'whole');
});

test('AWQ streamed: one block’s folded weights at a time, plus those of unquantized layers until the export', () => {
  const mid = Math.round((plan(1e12).streamedBytes + plan(1e12).wholeBytes) / 2);
  const params = (n: string) => model.layer(n).params;
  const [d, f] = [model.layer('layers.0.w1').shape[1], model.layer('layers.0.w2').shape[1]];
  // Every layer AWQ: the largest (MLP) block adds its three folded weights and the rescaled Hessians of
  // its two inputs; the other blocks' folded weights (the whole model's, before) are not counted.
  const awq = layers.map((l) => ({ ...l, method: 'awq' as const }));
  const all = plan(mid, 'auto', awq);
  assert.equal(all.mode, 'streamed');
  assert.equal(
    all.streamedBytes - plan(mid).streamedBytes,
    4 * (params('layers.0.w1') + params('layers.0.w2') + params('layers.0.w3')) + 8 * (d * d + f * f),
  );
  assert.match(all.message, /the rest on disk; folded weights: one block's at a time$/);
  // w1 and w3 of layer 1 not quantized: w3 still absorbs w2's scale, and its folded weight is kept for the export.
  const skipped = awq.filter((l) => l.name !== 'layers.1.w1' && l.name !== 'layers.1.w3');
  const kept = planMemory({
    model,
    plan: { layers: skipped, modelPath: 'm.onnx' },
    calibrated: calibrated.filter((l) => skipped.some((s) => s.name === l.name)),
    tokensPerBatch: 128,
    budgetBytes: 1e12,
    streaming: 'always',
    processBytes: 100e6,
  });
  assert.match(
    kept.message,
    new RegExp(
      `; folded weights: one block's at a time, plus ${formatBytes(4 * params('layers.1.w3'))} of unquantized layers kept for the export$`,
    ),
  );
  const noW3 = planMemory({
    model,
    plan: { layers: skipped.filter((l) => l.name !== 'layers.1.w2'), modelPath: 'm.onnx' },
    calibrated: calibrated.filter((l) => skipped.some((s) => s.name === l.name) && l.name !== 'layers.1.w2'),
    tokensPerBatch: 128,
    budgetBytes: 1e12,
    streaming: 'always',
    processBytes: 100e6,
  });
  assert.doesNotMatch(noW3.message, /kept for the export/);
});
