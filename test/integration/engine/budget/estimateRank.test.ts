/**
 * Issue 18: the loss estimate checked against measured KL. On stories260K (matmulnbits, the settings of
 * mustHold.test.ts) every uniform candidate and five points of the knapsack's frontier are run as real
 * jobs; the Spearman rank correlation of the estimate (Σ single-layer KL on calibration windows) with
 * the held-out KL of the written model is reported (docs/results.md) and must be high.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suggest } from '../../../../engine/budget/suggest';
import { spearman } from '../../../../engine/budget/rankCorrelation';
import { runJob } from '../../../../engine/job';
import { readBudget } from '../../../../recipe/budget';
import { loadRecipePlan } from '../../../../recipe/load';
import { readRecipe } from '../../../../recipe/checkRecipe';
import { applyEdit, suggestionEdit } from '../../../../recipe/suggestionEdit';
import { modelHost } from '../../../../language-server/src/services/modelSource';
import { skipNoShared, stories, storiesRecipeHead } from '../sharedFixtures';

function recipeText(out: string): string {
  return `${storiesRecipeHead({ output: out, format: 'matmulnbits', samples: 16, sequenceLength: 128, defaults: '{ method: gptq, bits: 2, group_size: 32 }' })}layers:
  - match: output
    skip: true
budget: { bits_per_weight: 3.5 }
evaluate:
  text: ${stories.text}
  samples: 32
  sequence_length: 128
  offset: 0
  metrics: [kl_divergence, size]
`;
}

describe('budget estimate vs held-out KL, stories260K matmulnbits', { skip: skipNoShared }, () => {
  test('the estimate ranks uniform and frontier configurations as their held-out KL does', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-budget-rank-'));
    try {
      const base = join(dir, 'suggest.lowbit.yaml');
      const text = recipeText(join(dir, 'unused.onnx'));
      writeFileSync(base, text);
      const { plan } = await loadRecipePlan(base, modelHost);
      assert.ok(plan);
      const r = await suggest(plan, readBudget(readRecipe(text))!);
      const step = Math.max(1, Math.floor((r.frontier.length - 1) / 4));
      const frontier = r.frontier.filter((_, i) => i % step === 0 || i === r.frontier.length - 1).slice(-5);
      const configs = [
        ...r.uniform.map((u) => ({ label: u.label, est: u.loss, yaml: u.yaml! })),
        ...frontier.map((f) => ({ label: `frontier ${f.bitsPerWeight.toFixed(2)} b/w`, est: f.loss, yaml: f.yaml! })),
      ];
      const rows: { label: string; est: number; kl: number; bpw: number }[] = [];
      for (const [i, c] of configs.entries()) {
        const path = join(dir, `c${i}.lowbit.yaml`);
        const own = recipeText(join(dir, `c${i}.onnx`));
        writeFileSync(path, applyEdit(own, suggestionEdit(own, c.yaml, c.label)));
        const loaded = await loadRecipePlan(path, modelHost);
        assert.ok(loaded.plan, loaded.diagnostics.map((d) => d.message).join('\n'));
        const report = await runJob(loaded.plan);
        rows.push({
          label: c.label,
          est: c.est,
          kl: report.metrics.kl_divergence!.mean,
          bpw: ((report.size.quantized_bytes - r.fixedBytes) * 8) / r.params,
        });
      }
      const rho = spearman(
        rows.map((x) => x.est),
        rows.map((x) => x.kl),
      );
      t.diagnostic(JSON.stringify({ rho, n: rows.length, rows, proxyKlSpearman: r.proxyKlSpearman }));
      assert.ok(rows.length >= 8, `${rows.length} configurations`);
      assert.ok(rho >= 0.8, `Spearman ρ(estimate, held-out KL) = ${rho}: ${JSON.stringify(rows)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
