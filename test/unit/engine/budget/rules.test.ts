import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceRules, familyOf, rulesYaml } from '../../../../engine/budget/rules';
import { spearman } from '../../../../engine/budget/rankCorrelation';
import type { Candidate } from '../../../../recipe/budgetCandidates';
import { compilePattern } from '../../../../recipe/match';

const c2: Candidate = { method: 'gptq', bits: 2, groupSize: 32 };
const c4: Candidate = { method: 'gptq', bits: 4, groupSize: -1 };
const names = [0, 1, 2].flatMap((i) => ['wq', 'w1', 'w2'].map((w) => `layers.${i}.${w}`));

/** The candidate the rules give `name` (last matching rule wins). */
function applied(rules: ReturnType<typeof choiceRules>, name: string): string {
  let out = 'none';
  for (const r of rules) {
    const c = compilePattern(r.match);
    if (c.ok && c.regex.test(name)) out = `${r.bits}/${r.groupSize}`;
  }
  return out;
}

test('familyOf replaces whole numeric segments only', () => {
  assert.equal(familyOf('layers.3.w2'), 'layers.*.w2');
  assert.equal(familyOf('model.12.conv.0'), 'model.*.conv.*');
  assert.equal(familyOf('output'), 'output');
});

test('one rule per family plus narrow exceptions, and they give every layer its choice', () => {
  const chosen = names.map((n) => (n === 'layers.1.w2' || n.endsWith('w1') ? c4 : c2));
  const rules = choiceRules({ layers: names, chosen, comment: (c, l) => `${c.bits}-bit for ${l.length}` });
  assert.deepEqual(
    rules.map((r) => r.match),
    ['layers.*.wq', 'layers.*.w1', 'layers.*.w2', 'layers.1.w2'],
  );
  names.forEach((n, i) => assert.equal(applied(rules, n), `${chosen[i].bits}/${chosen[i].groupSize}`, n));
  const yaml = rulesYaml(rules);
  assert.match(yaml, / {2}# 4-bit for 1\n {2}- match: "layers\.1\.w2"\n {4}method: gptq\n {4}bits: 4\n {4}group_size: -1\n/);
});

test('names with glob characters get exact re: patterns', () => {
  const odd = ['blk[0].w', 'blk[1].w'];
  const rules = choiceRules({ layers: odd, chosen: [c2, c4], comment: () => '' });
  odd.forEach((n, i) => assert.equal(applied(rules, n), i ? '4/-1' : '2/32'));
});

test('spearman: 1 for the same order, −1 reversed, ties averaged', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 1, 2, 3], [1, 2, 3, 4]) - 0.9486832980505138) < 1e-12);
});
