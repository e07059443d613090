import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { renderRecipeDocs, RECIPE_DOCS_PATH } from '../../../recipe/docs';
import { METHODS } from '../../../protocol/plan';

test('docs/recipe.md is up to date with the schema', () => {
  const want = renderRecipeDocs();
  const have = fs.existsSync(RECIPE_DOCS_PATH) ? fs.readFileSync(RECIPE_DOCS_PATH, 'utf8') : '';
  assert.ok(have === want, 'docs/recipe.md is stale: run `node --import tsx recipe/docs.ts --write`');
  for (const m of METHODS) assert.ok(want.includes(`### \`${m}\``), m);
});
