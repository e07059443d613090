/**
 * Issue 18's must-holds on stories260K at 3.5 bits/weight, for matmulnbits and packed: the suggested
 * recipe (written into the recipe text, run as a real job) fits the budget measured from the written
 * file, and beats on held-out KL the best uniform configuration that fits the same budget in the same
 * format (every uniform candidate the size model says fits is run and its fit checked on its file).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suggest } from '../../../../engine/budget/suggest';
import { runJob } from '../../../../engine/job';
import { readBudget } from '../../../../recipe/budget';
import { loadRecipePlan } from '../../../../recipe/load';
import { readRecipe } from '../../../../recipe/checkRecipe';
import { applyEdit, suggestionEdit } from '../../../../recipe/suggestionEdit';
import type { SuggestProgress } from '../../../../protocol/budget';
import { modelHost } from '../../../../language-server/src/services/modelSource';
import { skipNoShared, stories, storiesRecipeHead } from '../sharedFixtures';

const BUDGET = 3.5;

function recipeText(format: string, out: string, rules = ''): string {
  return `${storiesRecipeHead({ output: out, format: format, samples: 16, sequenceLength: 128, defaults: '{ method: gptq, bits: 2, group_size: 32 }' })}layers:
  - match: output          # the LM head stays in full precision, as in docs/results.md
    skip: true
${rules}budget: { bits_per_weight: ${BUDGET} }
evaluate:
  text: ${stories.text}
  samples: 32
  sequence_length: 128
  offset: 0
  metrics: [kl_divergence, size]
`;
}

async function runRecipe(path: string) {
  const { plan, diagnostics } = await loadRecipePlan(path, modelHost);
  assert.ok(plan, diagnostics.map((d) => `${d.line}: ${d.message}`).join('\n'));
  const report = await runJob(plan);
  return { plan, report, fileBytes: statSync(plan.outputPath).size };
}

for (const format of ['matmulnbits', 'packed'] as const) {
  describe(`suggest at ${BUDGET} bits/weight, ${format}, stories260K`, { skip: skipNoShared }, () => {
    test('fits as written and beats the best uniform configuration that fits', async (t) => {
      const dir = mkdtempSync(join(tmpdir(), `lowbit-budget-${format}-`));
      try {
        const recipePath = join(dir, 'suggest.lowbit.yaml');
        const text = recipeText(format, join(dir, 'suggested.onnx'));
        writeFileSync(recipePath, text);
        const { plan } = await loadRecipePlan(recipePath, modelHost);
        assert.ok(plan);
        const progress: SuggestProgress[] = [];
        const r = await suggest(plan, readBudget(readRecipe(text))!, { onProgress: (p) => progress.push(p) });
        // Progress per layer, in plan order.
        assert.deepEqual(
          progress.filter((p) => p.stage === 'measure').map((p) => p.layer),
          plan.layers.map((l) => l.name),
        );
        assert.ok(r.knapsack.exact);
        // The chosen point was measured as one export (a fitting uniform may exceed the primed-cost capacity).
        assert.ok(r.chosen.measured && r.chosen.fileBytes <= r.fileTarget);

        // The suggestion, written into the recipe as rules, run as a real job.
        writeFileSync(recipePath, applyEdit(text, suggestionEdit(text, r.yaml, 'test')));
        const mixed = await runRecipe(recipePath);
        const chosen = new Map(r.layers.map((l) => [l.name, r.candidates[l.chosen]]));
        for (const l of mixed.plan.layers) {
          const c = chosen.get(l.name)!;
          assert.deepEqual([l.method, l.bits, l.groupSize], [c.method, c.bits, c.groupSize], l.name);
        }
        const storedBpw = (bytes: number) => ((bytes - r.fixedBytes) * 8) / r.params;
        const mixedBpw = storedBpw(mixed.fileBytes);
        assert.ok(mixedBpw <= BUDGET, `suggested recipe stores ${mixedBpw} bits/weight (file ${mixed.fileBytes} bytes)`);
        // The planner measured the chosen mix as one export: the job writes exactly those bytes.
        assert.equal(mixed.fileBytes, r.chosen.fileBytes);
        assert.ok(mixed.fileBytes <= r.fileTarget);

        // Every uniform candidate that fits by the size model, run; the best that fits from its file.
        const uniform: { label: string; bpw: number; kl: number; est: number }[] = [];
        for (const [k, c] of r.candidates.entries()) {
          if (!r.uniform[k].fits) continue;
          const p = join(dir, `uniform-${k}.lowbit.yaml`);
          writeFileSync(
            p,
            recipeText(
              format,
              join(dir, `uniform-${k}.onnx`),
              `  - match: "layers.*"\n    method: ${c.method}\n    bits: ${c.bits}\n    group_size: ${c.groupSize}\n`,
            ),
          );
          const u = await runRecipe(p);
          const bpw = storedBpw(u.fileBytes);
          // Uniform configurations are measured as one export each: the job writes exactly those bytes.
          assert.ok(r.uniform[k].measured);
          assert.equal(u.fileBytes, r.uniform[k].fileBytes, c.label);
          if (bpw <= BUDGET) uniform.push({ label: c.label, bpw, kl: u.report.metrics.kl_divergence!.mean, est: r.uniform[k].loss });
        }
        if (format === 'matmulnbits')
          assert.ok(
            uniform.some((u) => u.label === 'gptq 2-bit g32'),
            'GPTQ 2-bit g32 fits 3.5 bits/weight',
          );
        assert.ok(uniform.length, 'some uniform configuration fits');
        const best = uniform.reduce((a, b) => (b.kl < a.kl ? b : a));
        const kl = mixed.report.metrics.kl_divergence!.mean;
        t.diagnostic(
          JSON.stringify({
            format,
            suggested: { bpw: mixedBpw, kl, est: r.chosen.loss },
            uniform,
            proxyKlSpearman: r.proxyKlSpearman,
            rules: r.rules.length,
          }),
        );
        assert.ok(kl < best.kl, `suggested KL ${kl} vs best uniform ${best.label} ${best.kl}`);
        assert.ok(
          r.chosen.loss <= Math.min(...r.uniform.filter((u) => u.fits).map((u) => u.loss)) + 1e-12,
          'the knapsack is at least as good as any fitting uniform choice on its own estimate',
        );
        assert.match(readFileSync(recipePath, 'utf8'), /# lowbit suggest: begin/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
