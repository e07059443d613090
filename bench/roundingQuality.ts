/**
 * HQQ and AdaRound on stories260K with the quality table's setup (docs/results.md: 35 body layers, LM
 * head fp32, sequential calibration 16×128 from token 8192, evaluation 64×128 from 0), next to RTN
 * and GPTQ at the same bits and group size, all measured in this run: `npm run bench -- rounding`.
 * Per layer it prints AdaRound's rounding flips and HQQ's accepted iterations.
 */
import { FULL_SETUP, formatTable, measure, type QualityConfig, type QualityRow } from './qualityConfigs';
import { skipNoShared } from '../test/integration/engine/sharedFixtures';

const CONFIGS: QualityConfig[] = [3, 4].flatMap((bits): QualityConfig[] => [
  { id: `rtn-w${bits}-g32`, method: 'rtn', bits, groupSize: 32, format: 'fake' },
  { id: `hqq-w${bits}-g32`, method: 'hqq', bits, groupSize: 32, format: 'fake' },
  { id: `gptq-w${bits}-g32`, method: 'gptq', bits, groupSize: 32, format: 'fake' },
  { id: `adaround-w${bits}-g32-rtn`, method: 'adaround', bits, groupSize: 32, format: 'fake' },
  { id: `adaround-w${bits}-g32-gptq`, method: 'adaround', bits, groupSize: 32, format: 'fake', settings: { base: 'gptq' } },
]);

export async function main(): Promise<void> {
  if (skipNoShared) {
    console.log(`skipped: ${skipNoShared}`);
    return;
  }
  const rows: QualityRow[] = [];
  for (const c of CONFIGS) {
    const t0 = performance.now();
    const row = await measure(c, FULL_SETUP);
    rows.push(row);
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    const layers = row.report.layers;
    if (c.method === 'adaround') {
      const flips = layers.map((l) => l.adaround!.flip_fraction);
      const gain = layers.map((l) => l.adaround!.loss / l.adaround!.loss_nearest);
      console.log(
        `${c.id} (${s} s): flips vs nearest per layer ${(100 * Math.min(...flips)).toFixed(1)}–${(100 * Math.max(...flips)).toFixed(1)}% (mean ${((100 * flips.reduce((a, b) => a + b, 0)) / flips.length).toFixed(1)}%); tr(ΔHΔᵀ) learned/nearest ${Math.min(...gain).toFixed(3)}–${Math.max(...gain).toFixed(3)}`,
      );
      console.log(`  flips: ${layers.map((l) => `${l.name} ${l.adaround!.flips}`).join(', ')}`);
    } else if (c.method === 'hqq') {
      const its = layers.map((l) => l.hqq!.iterations);
      const drop = layers.map((l) => l.hqq!.final / l.hqq!.objective[0]!);
      console.log(
        `${c.id} (${s} s): iterations ${Math.min(...its)}–${Math.max(...its)}; objective final/start ${Math.min(...drop).toFixed(3)}–${Math.max(...drop).toFixed(3)}`,
      );
    } else console.log(`${c.id} (${s} s)`);
  }
  console.log(formatTable(rows));
}
