import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runJob } from '../../../engine/job';
import type { Method } from '../../../protocol/plan';
import type { Report } from '../../../protocol/report';
import { layerPlans, storiesPlan } from './planFixture';

const LAYERS = ['layers.0.w1', 'layers.0.w2', 'output'];
const run = (method: Method, bits: number, groupSize: number): Promise<Report> => {
  const plan = storiesPlan({ layers: layerPlans(method, bits, groupSize, LAYERS) });
  plan.evaluation = { ...plan.evaluation, samples: 2 } as typeof plan.evaluation;
  return runJob(plan);
};

describe('binarization and low-rank methods through the pipeline', () => {
  test("LoRC / LQER: rel_error includes the L·R correction (= the kernel's own after-error) and bits/weight counts it", async () => {
    const rtn = await run('rtn', 4, 32);
    for (const m of ['lorc', 'lqer'] as const) {
      const r = await run(m, 4, 32);
      for (let i = 0; i < LAYERS.length; i++) {
        const lr = r.layers[i].low_rank!;
        assert.ok(lr.rank > 0 && lr.rel_error_after < lr.rel_error_before, `${m} ${LAYERS[i]}`);
        // The kernel's rel_error_after and the report's rel_error are the same ratio tr(ΔHΔᵀ)/tr(WHWᵀ).
        const want = lr.rel_error_after;
        assert.ok(Math.abs(r.layers[i].rel_error - want) <= 0.02 * want, `${m} ${LAYERS[i]}: ${r.layers[i].rel_error} vs ${want}`);
        assert.ok(r.layers[i].bits_per_weight > rtn.layers[i].bits_per_weight);
      }
      assert.equal(r.warnings.filter((w) => w.startsWith('export:')).length, 0);
    }
  });
  test('BiLLM / PB-LLM / dual binarization run, report details and, under matmulnbits, are stored packed at their measured bits', async () => {
    for (const [m, bits] of [
      ['billm', 1],
      ['pbllm', 1],
      ['dualbin', 2],
    ] as const) {
      const r = await run(m, bits, 128);
      assert.equal(r.layers.length, 3);
      for (const l of r.layers) {
        assert.ok(l.rel_error > 0 && l.rel_error < 1, `${m} ${l.name} ${l.rel_error}`);
        // Stored bits: codes, masks, fp16/fp32 parameters and the decode nodes, far below float weights.
        assert.ok(l.bits_per_weight > bits && l.bits_per_weight < 12, `${m} ${l.name} ${l.bits_per_weight}`);
        assert.equal(l.runtime_bits_per_weight, 32, 'onnxruntime holds the decoded fp32 weight');
      }
      if (m === 'billm') assert.ok(r.layers[0].binarization && r.layers[0].binarization.bits_claimed > 1);
      assert.match(r.warnings.join('\n'), /export: 3 layers .* written as packed: binarized weights fit no matmulnbits grid/);
      assert.ok(r.size.quantized_bytes < r.size.fp_bytes);
      assert.ok(r.metrics.quantized.perplexity! > r.metrics.fp.perplexity!);
    }
  });
});
