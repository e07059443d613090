/**
 * Quality benchmark: `npm run bench -- quality` measures issue 4's claims on stories260K (BiLLM vs 2-bit
 * RTN/GPTQ; FLRQ 3-bit (the spec's RTN or GPTQ residual quantizer, and the authors' defaults) vs RTN/GPTQ 3-bit and vs LoRC at FLRQ's ranks; PB-LLM, dual binarization) and
 * prints the table of docs/results.md. LOWBIT_BENCH_EVAL_SAMPLES overrides the evaluation windows (64),
 * LOWBIT_BENCH_CALIB_OFFSET the calibration's first token (8192).
 */
import {
  CLAIM1,
  CLAIM2,
  EXTRA,
  FLRQ_AUTHORS,
  FLRQ_GPTQ,
  envEvalSetup,
  formatTable,
  lorcMatching,
  measure,
  type QualityRow,
} from './qualityConfigs';
import { skipNoShared } from '../test/integration/engine/sharedFixtures';

export async function main(): Promise<void> {
  if (skipNoShared) {
    console.log(`skipped: ${skipNoShared}`);
    return;
  }
  const off = Number(process.env.LOWBIT_BENCH_CALIB_OFFSET);
  const setup = { ...envEvalSetup(), ...(Number.isInteger(off) && off >= 0 ? { calibOffset: off } : {}) };
  console.log(
    `stories260K, 35 body layers (LM head fp32); calibration ${setup.calibSamples}×${setup.sequenceLength} tokens from ${setup.calibOffset}, evaluation ${setup.evalSamples}×${setup.sequenceLength} from ${setup.evalOffset}`,
  );
  const rows: QualityRow[] = [];
  for (const c of [...CLAIM1, ...CLAIM2, ...FLRQ_GPTQ, ...FLRQ_AUTHORS, ...EXTRA]) {
    const t0 = performance.now();
    const row = await measure(c, setup);
    rows.push(row);
    console.error(`  ${c.id}: ${((performance.now() - t0) / 1000).toFixed(1)} s${row.ranks ? ` ranks ${row.ranks.join(',')}` : ''}`);
    if (c.method === 'flrq') {
      const m = lorcMatching(row, c);
      rows.push(await measure(m.config, setup, m.layerSettings));
    }
  }
  console.log(formatTable(rows));
}
