/**
 * `lowbit suggest` as a real process on stories260K (a few layers, proxy and KL estimates, so it stays
 * quick): usage errors, a missing budget, progress per layer, --json deterministic for a seed,
 * --write puts the rules into the recipe (which then checks clean), Ctrl-C leaves the recipe untouched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SuggestResult } from '../../../protocol/budget';
import { skipNoShared, storiesRecipeHead } from '../engine/sharedFixtures';
import { runCli } from './cliHarness';

function recipe(dir: string, budget = 'budget: { bits_per_weight: 4.5, estimate: kl, samples: 2 }\n'): string {
  const path = join(dir, 'mix.lowbit.yaml');
  writeFileSync(
    path,
    `${storiesRecipeHead({ output: './out/mix.onnx', format: 'matmulnbits', samples: 4, sequenceLength: 64, defaults: '{ method: gptq, bits: 4, group_size: 32 }' })}layers:
  - match: "*"                               # only four layers: a quick plan
    skip: true
  - match: "re:layers\\\\.0\\\\.w[q123]"
    skip: false
${budget}`,
  );
  return path;
}

describe('lowbit suggest (real process)', { skip: skipNoShared }, () => {
  test('usage errors exit 2 and name the flag', async () => {
    const r = await runCli(['suggest', 'x.lowbit.yaml', '--ratio', '3']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--ratio needs a ratio in \(0, 1\] \(got 3\)/);
    assert.equal((await runCli(['suggest'])).code, 2);
    assert.match((await runCli(['suggest', 'a', '--bytes', '10', '--ratio', '0.5'])).stderr, /give one budget/);
  });

  test('no budget: exit 1 with what to add', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-suggest-'));
    try {
      const r = await runCli(['suggest', recipe(dir, '')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no budget: add `budget: \{ bits_per_weight: 3\.5 \}`/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--json: progress per layer, fits, deterministic; --write edits the recipe, which checks clean', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-suggest-'));
    try {
      const path = recipe(dir);
      const a = await runCli(['suggest', path, '--json']);
      assert.equal(a.code, 0, a.stderr);
      assert.deepEqual(
        [...a.stderr.matchAll(/^\[(\d)\/4\] (\S+):/gm)].map((m) => m[2]),
        ['layers.0.wq', 'layers.0.w1', 'layers.0.w3', 'layers.0.w2'],
      ); // model order
      const r = JSON.parse(a.stdout) as SuggestResult;
      assert.equal(r.layers.length, 4);
      assert.ok(r.chosen.fileBytes <= r.fileTarget && r.chosen.bitsPerWeight <= 4.5, `${r.chosen.bitsPerWeight}`);
      assert.ok(r.proxyKlSpearman! > 0, `proxy vs KL rank correlation ${r.proxyKlSpearman}`);
      const b = JSON.parse((await runCli(['suggest', path, '--json'])).stdout) as SuggestResult;
      assert.deepEqual({ ...b, created_at: '' }, { ...r, created_at: '' });
      // A flag overrides the recipe's budget.
      const before = readFileSync(path, 'utf8');
      const w = await runCli(['suggest', path, '--bits-per-weight', '6', '--write']);
      assert.equal(w.code, 0, w.stderr);
      assert.match(w.stdout, /^budget: 6 bits\/weight as matmulnbits: /m);
      assert.match(w.stdout, /\| suggested \| [\d.]+ \| \d+ \| [\d.e-]+ \| yes \|/);
      const after = readFileSync(path, 'utf8');
      assert.ok(after.startsWith(before.slice(0, before.indexOf('budget:'))));
      assert.match(after, /# lowbit suggest: begin \(6 bits\/weight as matmulnbits: [\d.]+ bits\/weight stored/);
      const check = await runCli(['check', path]);
      assert.equal(check.code, 0, check.stderr + check.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Ctrl-C while measuring: exit 1, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-suggest-'));
    try {
      const path = recipe(dir);
      const before = readFileSync(path, 'utf8');
      let sent = false;
      const r = await runCli(['suggest', path, '--write'], (chunk, child) => {
        if (!sent && /\[2\/4\]/.test(chunk)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /lowbit suggest: cancelled; nothing written/);
      assert.equal(readFileSync(path, 'utf8'), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
