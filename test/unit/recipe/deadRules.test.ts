/**
 * Dead-rule detection is one backward pass (issue 17: 32k rules took 130 s): it agrees with the
 * definition (the former all-pairs scan, kept here as the reference) on random recipes, and 32k
 * rules finish far inside a bound the quadratic scan could not meet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadRules } from '../../../recipe/resolvePlan';
import type { Recipe, Rule } from '../../../recipe/checkRecipe';
import { lcg } from '../../fixtures/lcg';

const KEYS = ['method', 'bits', 'group_size', 'symmetric', 'skip'] as const;
const field = <T>(value: T) => ({ value, span: { start: 0, end: 0 }, keySpan: { start: 0, end: 0 } });

/** The definition: every field set again (or made moot by a later skip) for every matched layer. */
function referenceDead(rules: Rule[], matches: string[][]): number[] {
  const dead: number[] = [];
  rules.forEach((r, i) => {
    const mine = matches[i];
    const keys = [...KEYS.filter((k) => r[k]), ...Object.keys(r.settings).map((k) => `settings.${k}`)];
    if (!mine.length || !keys.length) return;
    const later = rules.slice(i + 1).map((lr, j) => ({ lr, set: new Set(matches[i + 1 + j]) }));
    if (
      mine.every((name) =>
        keys.every((k) =>
          later.some(
            ({ lr, set }) =>
              set.has(name) &&
              ((lr.skip?.value === true && k !== 'skip') ||
                (k.startsWith('settings.') ? k.slice(9) in lr.settings : Boolean(lr[k as (typeof KEYS)[number]]))),
          ),
        ),
      )
    )
      dead.push(i);
  });
  return dead;
}

function randomRules(n: number, layers: string[], seed: number): { recipe: Recipe; matches: string[][] } {
  const rand = lcg(seed);
  const rules: Rule[] = [];
  const matches: string[][] = [];
  for (let i = 0; i < n; i++) {
    const r: Rule = { index: i, span: { start: i, end: i + 1 }, settings: {} };
    if (rand() < 0.5) r.bits = field(4);
    if (rand() < 0.3) r.method = field('rtn');
    if (rand() < 0.1) r.skip = field(rand() < 0.7);
    if (rand() < 0.2) r.settings.damp = field(0.01);
    rules.push(r);
    matches.push(layers.filter(() => rand() < 0.3));
  }
  return { recipe: { rules } as unknown as Recipe, matches };
}

test('dead rules agree with the all-pairs definition on 300 random recipes', () => {
  const layers = ['a', 'b', 'c', 'd', 'e'];
  for (let seed = 1; seed <= 300; seed++) {
    const { recipe, matches } = randomRules(1 + (seed % 12), layers, seed);
    assert.deepEqual(deadRules(recipe, matches), referenceDead(recipe.rules, matches), `seed ${seed}`);
  }
});

test('32k one-line rules over 36 layers: one pass (the all-pairs scan needed ~5e8 set probes)', () => {
  const layers = Array.from({ length: 36 }, (_, i) => `layers.${i}`);
  const rules: Rule[] = Array.from({ length: 32_000 }, (_, i) => ({
    index: i,
    span: { start: i, end: i + 1 },
    settings: {},
    bits: field(4),
  }));
  const matches = rules.map((_, i) => [layers[i % 36]]);
  const t = performance.now();
  const dead = deadRules({ rules } as unknown as Recipe, matches);
  const ms = performance.now() - t;
  assert.equal(dead.length, 32_000 - 36);
  // Generous: linear work is a few ms; the quadratic scan took minutes. A loaded 2-core box cannot close that gap.
  assert.ok(ms < 10_000, `${ms.toFixed(0)} ms`);
});
