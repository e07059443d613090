import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { renderRecipeTypes, RECIPE_TYPES_PATH } from '../../../recipe/typesGen';
import type { RecipeDocument } from '../../../recipe/recipe.types';
import { METHODS } from '../../../protocol/plan';
import { readRecipe } from '../../../recipe/checkRecipe';

test('recipe.types.ts is up to date with the schema', () => {
  const have = fs.existsSync(RECIPE_TYPES_PATH) ? fs.readFileSync(RECIPE_TYPES_PATH, 'utf8') : '';
  assert.ok(have === renderRecipeTypes(), 'recipe.types.ts is stale: run `node --import tsx recipe/typesGen.ts --write`');
  for (const m of METHODS) assert.match(have, new RegExp(`\\b${m}\\?: \\w+Settings;`), m);
});

test('a recipe typed as RecipeDocument is one the parser accepts without errors', () => {
  // The type check (tsc, part of npm test) verifies this literal against the generated types;
  // the parser must agree with them at run time.
  const doc: RecipeDocument = {
    version: 1,
    model: './m.onnx',
    output: './out/m.onnx',
    format: 'matmulnbits',
    calibration: { samples: 8, sequence_length: 64, mode: 'sequential' },
    defaults: { method: 'gptq', bits: 4, group_size: 32, symmetric: false },
    layers: [
      { match: 'layers.*.w2', bits: 8 },
      { match: 'output', skip: true },
    ],
    methods: { gptq: { damp: 0.01, block_size: 128, act_order: true }, smoothquant: { alpha: 0.5, activation_bits: 8 } },
    evaluate: { samples: 4, metrics: ['perplexity', 'size'] },
  };
  const text = JSON.stringify(doc, null, 2);
  const parsed = readRecipe(text);
  assert.deepEqual(
    parsed.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
});
