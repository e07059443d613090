import { runJob } from './engine/job';
import { layerPlans, storiesPlan } from './test/integration/engine/planFixture';
import { STORIES_LAYERS } from './test/integration/engine/sharedFixtures';
(async () => {
  for (const [bits, g, sym] of [[4, -1, false], [3, -1, false], [4, 32, false], [3, 32, false], [3, -1, true]] as const) {
    const line: string[] = [];
    for (const rot of [undefined, 0, 1, 2]) {
      const p = storiesPlan({ layers: layerPlans('rtn', bits, g, STORIES_LAYERS).map(l => ({...l, symmetric: sym})), format: 'fake', ...(rot !== undefined ? { rotation: { method: 'hadamard', seed: rot } } : {}) });
      if (p.evaluation.kind === 'text') p.evaluation = { ...p.evaluation, samples: 16, sequenceLength: 128, metrics: ['perplexity', 'kl_divergence'] };
      const r = await runJob(p);
      line.push(`${rot ?? '-'}:${r.metrics.quantized.perplexity!.toFixed(2)}/${r.metrics.kl_divergence!.mean.toFixed(3)}`);
    }
    console.log(`w${bits} g${g} sym=${sym}`, line.join('  '));
  }
})();
