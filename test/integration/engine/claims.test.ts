/**
 * Issue 4's quality claims on the real stories260K model, the parts that HOLD in docs/results.md.
 * The parts that do not hold (BiLLM vs GPTQ 2-bit group 32; FLRQ 3-bit as the brief specified it vs
 * GPTQ 3-bit) are documented there with numbers, not tested. FLRQ as its authors' code does it (the
 * defaults since issue 14) beats GPTQ 3-bit, by less than "clearly". Same calibration (16×128 tokens from token 8192) as docs/results.md;
 * evaluation on 4 windows (tokens [0, 512)) to keep each test to a few seconds. "Clearly" = at least
 * 15% lower perplexity and a lower mean KL. FLRQ with the GPTQ residual quantizer (an extension) beats
 * GPTQ 3-bit symmetric by less than that, so only its per-layer error is tested here.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLAIM1,
  CLAIM2,
  FLRQ_AUTHORS,
  FLRQ_GPTQ,
  FULL_SETUP,
  lorcMatching,
  measure,
  type QualityConfig,
  type QualityRow,
} from '../../../bench/qualityConfigs';
import { skipNoShared } from './sharedFixtures';

const SETUP = { ...FULL_SETUP, evalSamples: 4 };
const config = (list: QualityConfig[], id: string): QualityConfig => {
  const c = list.find((x) => x.id === id);
  if (!c) throw new Error(`bench/qualityConfigs.ts has no configuration '${id}'`);
  return c;
};
function assertClearlyBetter(a: QualityRow, b: QualityRow): void {
  const msg = `${a.id}: ppl ${a.ppl.toFixed(3)}, KL ${a.kl.toFixed(4)} vs ${b.id}: ppl ${b.ppl.toFixed(3)}, KL ${b.kl.toFixed(4)}`;
  assert.ok(a.ppl < 0.85 * b.ppl, msg);
  assert.ok(a.kl < b.kl, msg);
}

describe('issue 4 quality claims on stories260K (those that hold)', { skip: skipNoShared }, () => {
  test('BiLLM at ~1.1 claimed bits has clearly lower perplexity and KL than RTN 2-bit (g32, per-channel) and GPTQ 2-bit per-channel', async () => {
    const billm = await measure(config(CLAIM1, 'billm'), SETUP);
    assert.ok(billm.bitsNominal > 1 && billm.bitsNominal < 1.3, `BiLLM claimed bits ${billm.bitsNominal}`);
    assert.ok(billm.ppl > billm.fpPpl, 'binarization cannot beat the float model');
    for (const id of ['rtn-w2-g32', 'rtn-w2-pc', 'gptq-w2-pc']) {
      const base = await measure(config(CLAIM1, id), SETUP);
      assert.ok(base.bitsNominal > billm.bitsNominal, `${id} uses more bits (${base.bitsNominal})`);
      assertClearlyBetter(billm, base);
    }
  });

  test('FLRQ 3-bit beats plain SVD compensation (LoRC) at the same per-layer ranks, i.e. equal storage', async () => {
    const flrqConfig = config(CLAIM2, 'flrq-w3-g32');
    const flrq = await measure(flrqConfig, SETUP);
    assert.ok(flrq.ranks && flrq.ranks.some((r) => r > 0), `FLRQ chose no rank at all: ${flrq.ranks}`);
    const m = lorcMatching(flrq, flrqConfig);
    const lorc = await measure(m.config, SETUP, m.layerSettings);
    assert.deepEqual(lorc.ranks, flrq.ranks, "LoRC must get exactly FLRQ's ranks");
    assert.ok(Math.abs(lorc.bitsNominal - flrq.bitsNominal) < 1e-9, `storage ${lorc.bitsNominal} vs ${flrq.bitsNominal}`);
    assertClearlyBetter(flrq, lorc);
  });

  test("FLRQ with its defaults (the authors' code) beats GPTQ 3-bit g32 and LoRC at its ranks with the same quantizer", async () => {
    // Not by the 15% of "clearly": docs/results.md measures 8.69 vs 9.51 (GPTQ) and 9.09 (LoRC) on 64
    // windows, at 5.41 vs 4.12 nominal bits for GPTQ (the low-rank budget is the claim's "+").
    const flrqConfig = config(FLRQ_AUTHORS, 'flrq-w3-g32-authors');
    const flrq = await measure(flrqConfig, SETUP);
    const gptq = await measure(config(CLAIM2, 'gptq-w3-g32'), SETUP);
    const m = lorcMatching(flrq, flrqConfig);
    const lorc = await measure(m.config, SETUP, m.layerSettings);
    assert.deepEqual(lorc.ranks, flrq.ranks, "LoRC must get exactly FLRQ's ranks");
    assert.ok(flrq.ranks!.filter((r) => r > 0).length > 20, `FLRQ's ranks ${flrq.ranks}`);
    for (const other of [gptq, lorc]) {
      const msg = `${flrq.id}: ppl ${flrq.ppl.toFixed(3)}, KL ${flrq.kl.toFixed(4)} vs ${other.id}: ppl ${other.ppl.toFixed(3)}, KL ${other.kl.toFixed(4)}`;
      assert.ok(flrq.ppl < other.ppl && flrq.kl < other.kl, msg);
    }
  });

  test("FLRQ's GPTQ residual quantizer has a lower layer error tr(ΔHΔᵀ) than its RTN one where both runs share H", async () => {
    // Sequential calibration: only layer 0's q/k/v projections see the same inputs (hence the same H)
    // in both runs; later layers see the outputs of differently quantized layers.
    const rtnRun = await measure(config(CLAIM2, 'flrq-w3-g32'), SETUP);
    const gptqRun = await measure(config(FLRQ_GPTQ, 'flrq-w3-g32-gptq'), SETUP);
    for (const name of ['layers.0.wq', 'layers.0.wk', 'layers.0.wv']) {
      const a = rtnRun.report.layers.find((l) => l.name === name)?.low_rank,
        b = gptqRun.report.layers.find((l) => l.name === name)?.low_rank;
      assert.ok(a && b, `${name}: no low-rank details`);
      // rel_error_* = tr(ΔHΔᵀ)/tr(WHWᵀ) with the same W and H: comparable directly.
      assert.ok(
        b.rel_error_after < a.rel_error_after,
        `${name}: gptq ${b.rel_error_after} (rank ${b.rank}) vs rtn ${a.rel_error_after} (rank ${a.rank})`,
      );
    }
    assert.ok(gptqRun.ppl < rtnRun.ppl && gptqRun.kl < rtnRun.kl, `ppl ${gptqRun.ppl} vs ${rtnRun.ppl}, KL ${gptqRun.kl} vs ${rtnRun.kl}`);
  });
});
