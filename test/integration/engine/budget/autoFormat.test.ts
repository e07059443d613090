/**
 * Budgets under `format: auto` price each layer × candidate in the form auto really stores it
 * (recipe/storedFormat.ts): on stories260K, MatMul layers go MatMulNBits at 2/4 bits and `packed` at
 * 3 bits, the opted-in Gather table GatherBlockQuantized at 4 bits and float (fake-quant) at 2/3 bits.
 * The suggested recipe and a uniform 3-bit one, run as real jobs, write exactly the priced bytes,
 * each layer in the priced format, and the suggestion fits the budget measured from the file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suggest } from '../../../../engine/budget/suggest';
import { runJob } from '../../../../engine/job';
import { readBudget } from '../../../../recipe/budget';
import { loadRecipePlan } from '../../../../recipe/load';
import { readRecipe } from '../../../../recipe/checkRecipe';
import { applyEdit, suggestionEdit } from '../../../../recipe/suggestionEdit';
import { modelHost } from '../../../../language-server/src/services/modelSource';
import { skipNoShared, stories, storiesRecipeHead } from '../sharedFixtures';

const BUDGET = 4.5;

function recipeText(out: string): string {
  return `${storiesRecipeHead({ output: out, format: 'auto', samples: 4, sequenceLength: 64, defaults: '{ method: rtn, bits: 4, group_size: 32 }' })}layers:
  - match: "*"
    skip: true
  - match: "layers.0.*"
    skip: false
  - match: tok_embeddings
    skip: false
budget: { bits_per_weight: ${BUDGET}, methods: [rtn], bits: [2, 3, 4], group_sizes: [32], samples: 2 }
evaluate:
  text: ${stories.text}
  samples: 2
  sequence_length: 64
  metrics: [size]
`;
}

async function run(path: string) {
  const { plan, diagnostics } = await loadRecipePlan(path, modelHost);
  assert.ok(plan, diagnostics.map((d) => `${d.line}: ${d.message}`).join('\n'));
  const report = await runJob(plan);
  return { plan, report, fileBytes: statSync(plan.outputPath).size };
}

describe('budget under format: auto, stories260K', { skip: skipNoShared }, () => {
  test('each layer × candidate is priced in the format auto stores; the suggestion fits as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-budget-auto-'));
    try {
      const recipePath = join(dir, 'auto.lowbit.yaml');
      const text = recipeText(join(dir, 'suggested.onnx'));
      writeFileSync(recipePath, text);
      const { plan } = await loadRecipePlan(recipePath, modelHost);
      assert.ok(plan);
      const r = await suggest(plan, readBudget(readRecipe(text))!);
      // 3-bit candidates are no longer dropped under auto: they are priced as what auto writes.
      assert.deepEqual(
        r.candidates.map((c) => c.label),
        ['rtn 2-bit g32', 'rtn 3-bit g32', 'rtn 4-bit g32'],
      );
      const byName = new Map(r.layers.map((l) => [l.name, l]));
      assert.deepEqual(byName.get('tok_embeddings')!.stored, ['fake', 'fake', 'matmulnbits']);
      for (const l of r.layers.filter((x) => x.name !== 'tok_embeddings'))
        assert.deepEqual(l.stored, ['matmulnbits', 'packed', 'matmulnbits'], l.name);
      // A table auto keeps in float costs its float bytes: far more than the 4-bit GatherBlockQuantized form.
      const emb = byName.get('tok_embeddings')!;
      assert.ok(emb.bytes[0] >= emb.params * 4 && emb.bytes[2] < emb.params, `table costs ${emb.bytes.join(', ')}`);
      const storedBpw = (bytes: number) => ((bytes - r.fixedBytes) * 8) / r.params;

      // The suggestion, written into the recipe and run: the priced bytes, in the priced formats.
      writeFileSync(recipePath, applyEdit(text, suggestionEdit(text, r.yaml, 'test')));
      const mixed = await run(recipePath);
      assert.equal(mixed.fileBytes, r.chosen.fileBytes);
      assert.ok(mixed.fileBytes <= r.fileTarget && storedBpw(mixed.fileBytes) <= BUDGET, `${storedBpw(mixed.fileBytes)} bits/weight`);
      const written = new Map(mixed.report.layers.map((l) => [l.name, l.format]));
      for (const l of r.layers) assert.equal(written.get(l.name), l.stored[l.chosen], `${l.name} written as priced`);

      // Uniform 3-bit: every MatMul packed, the table float; the job writes what the size model measured.
      const k3 = r.candidates.findIndex((c) => c.bits === 3);
      const uniformPath = join(dir, 'uniform3.lowbit.yaml');
      const uniformText = recipeText(join(dir, 'uniform3.onnx'));
      writeFileSync(uniformPath, applyEdit(uniformText, suggestionEdit(uniformText, r.uniform[k3].yaml!, 'uniform')));
      const u3 = await run(uniformPath);
      assert.ok(r.uniform[k3].measured);
      assert.equal(u3.fileBytes, r.uniform[k3].fileBytes);
      assert.equal(u3.report.layers.find((l) => l.name === 'layers.0.w2')?.format, 'packed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
