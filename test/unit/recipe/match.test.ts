/**
 * `match:` patterns run on a linear-time automaton (recipe/patternSyntax + patternAutomaton):
 * checked against JavaScript's own RegExp on the same patterns and names, and against the hostile
 * shapes of issue 17 by counting automaton steps (never by a clock).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, matchBudget, matchLayers, MatchBudgetExceeded, nameTrie } from '../../../recipe/match';
import { lcg } from '../../fixtures/lcg';

const names = [
  'layers.0.wq',
  'layers.1.w2',
  'layers.10.w13',
  'output',
  'a',
  'aa',
  'aaa',
  'ab',
  'abab',
  'b',
  '',
  'x.y',
  'x-y',
  'Z9_',
  '😀x',
  'layers.0.wq.bias',
];

/** Steps one full match used. */
function steps(pattern: string, name: string): { matched: boolean; used: number } {
  const c = compilePattern(pattern);
  assert.ok(c.ok, pattern);
  const b = matchBudget(1e9);
  return { matched: c.test(name, b), used: b.used };
}

test('re: patterns agree with JavaScript RegExp (full match) on fixed cases', () => {
  const patterns = [
    'layers\\.[0-2]\\.wq',
    'a*',
    'a+b?',
    '(a|ab)*',
    '(?:ab)+',
    'a{2}',
    'a{1,2}',
    'a{2,}',
    '[^a]',
    '[\\d.]+',
    '\\w+\\.\\w+',
    'x[-.]y',
    '.*w1?3',
    '(a*)*',
    '(a|aa)+',
    '^a$',
    'a|^b',
    'layers\\.\\d+\\.w[13]+',
    '\\u{1F600}x',
    '[\\u0041-\\u005a]\\d_',
    'a??',
    '(?<n>a)b',
    '[^\\D]',
    '\\S+',
    '',
  ];
  for (const p of patterns) {
    const re = new RegExp(`^(?:${p})$`, 'u');
    for (const n of names) assert.equal(steps(`re:${p}`, n).matched, re.test(n), `re:${p} on '${n}'`);
  }
});

test('re: patterns agree with RegExp on 400 random patterns from the supported grammar', () => {
  const rand = lcg(17);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const atom = (d: number): string => {
    const r = rand();
    if (d < 3 && r < 0.25) return `(${alt(d + 1)})`;
    if (d < 3 && r < 0.35) return `(?:${alt(d + 1)})`;
    return pick(['a', 'b', '.', '[ab]', '[^a]', '\\.', '\\d', 'x']);
  };
  const quant = () => pick(['', '', '', '*', '+', '?', '{2}', '{1,3}', '{0,}', '*?']);
  const seq = (d: number) => Array.from({ length: 1 + Math.floor(rand() * 3) }, () => atom(d) + quant()).join('');
  const alt = (d: number): string => (rand() < 0.3 ? `${seq(d)}|${seq(d)}` : seq(d));
  const corpus = ['', 'a', 'b', 'ab', 'ba', 'aab', 'abab', 'x.1', '1', 'aaaa', 'bxb', 'a.b', 'axbx9'];
  for (let k = 0; k < 400; k++) {
    const p = alt(0);
    const re = new RegExp(`^(?:${p})$`, 'u');
    for (const n of corpus) assert.equal(steps(`re:${p}`, n).matched, re.test(n), `re:${p} on '${n}'`);
  }
});

test('globs agree with their RegExp translation', () => {
  const cases: [string, RegExp][] = [
    ['layers.*.w2', /^layers\..*\.w2$/],
    ['layers.{0,1}.w[13]', /^layers\.(?:0|1)\.w[13]$/],
    ['layers.?.wq', /^layers\..\.wq$/],
    ['{a,{b,ab}}*', /^(?:a|(?:b|ab)).*$/],
    ['[!a]*', /^[^a].*$/],
    ['x[a-z.-]y', /^x[a-z.-]y$/],
    ['*', /^.*$/],
    ['output', /^output$/],
  ];
  for (const [g, re] of cases) for (const n of names) assert.equal(matchLayers(g, [n]).length === 1, re.test(n), `${g} on '${n}'`);
});

test('hostile shapes from issue 17 are linear: steps grow with the name, not exponentially', () => {
  const long = 'a'.repeat(400);
  for (const p of [
    `re:${'.*'.repeat(40)}Z`,
    `${'{*,*}'.repeat(20)}Z`,
    're:(a+)+$b',
    're:(a|aa)*b',
    're:(?:a*)*b',
    `re:${'(.*)'.repeat(60)}Z`,
  ]) {
    const c = compilePattern(p);
    assert.ok(c.ok, p);
    const short = steps(p, long.slice(0, 100)).used,
      full = steps(p, long).used;
    assert.equal(steps(p, long).matched, false);
    // The DFA is built once per new state: a 4× longer name costs at most ~4× the steps (plus construction).
    assert.ok(full <= 4 * short + 50_000, `${p}: ${short} steps for 100 characters, ${full} for 400`);
    assert.ok(full < 2_000_000, `${p}: ${full} steps`);
  }
});

test('a budget bounds the work of many patterns and is reported, not ignored', () => {
  const trie = nameTrie(names);
  const b = matchBudget(500);
  assert.throws(() => {
    for (let i = 0; i < 100; i++)
      compilePattern(`re:${'.*'.repeat(10)}${i}`).ok &&
        (compilePattern(`re:${'.*'.repeat(10)}${i}`) as { filter: (t: unknown, b: unknown) => unknown }).filter(trie, b);
  }, MatchBudgetExceeded);
  assert.ok(b.used > 500 && b.used < 1000, String(b.used));
});

test('patterns that are not regular, too large or malformed are errors that say why and where', () => {
  const err = (p: string) => {
    const c = compilePattern(p);
    assert.equal(c.ok, false, p);
    return (c as { error: string }).error;
  };
  assert.match(err('re:a(?=b)'), /lookaround .* not supported .*at character 2 after `re:`/);
  assert.match(err('re:(a)\\1'), /backreferences are not supported/);
  assert.match(err('re:\\bword'), /word boundary/);
  assert.match(err('re:a{2,1}'), /out of order/);
  assert.match(err('re:a{1000}'), /repeat counts above 100/);
  assert.match(err('re:*a'), /nothing to repeat/);
  assert.match(err('layers.{0,1'), /unclosed `\{`/);
  assert.match(err('layers.[0'), /unclosed `\[`/);
  assert.match(err('x'.repeat(501)), /longer than 500/);
  assert.match(err('re:((a{100}){100}){3}'), /more than 20000 automaton states/);
});

test('a literal every match needs rules names out before the automaton runs, without changing what matches', () => {
  // Same answers as RegExp through matchLayers (the trie filter), on patterns with and without literals.
  const patterns = [
    're:(.*)*1',
    're:layers\\.\\d+\\.w(q|2)',
    're:.*w1.*',
    'layers.*.wq',
    '*.w1?',
    're:(?:ab)+',
    're:a(b)c',
    're:x[.-]y',
    'o*t',
  ];
  for (const p of patterns) {
    const re = p.startsWith('re:') ? new RegExp(`^(?:${p.slice(3)})$`, 'u') : null;
    const got = matchLayers(p, names);
    if (re)
      assert.deepEqual(
        got,
        names.filter((n) => re.test(n)),
        p,
      );
    else
      assert.ok(
        got.every((n) => compilePattern(p).ok && (compilePattern(p) as { test: (n: string) => boolean }).test(n)),
        p,
      );
  }
  // A required literal no name contains costs no automaton step at all (issue 17: 40k distinct regexes).
  const b = matchBudget(1e9);
  const c = compilePattern('re:(.*)*39999');
  assert.ok(c.ok);
  assert.equal(c.filter(nameTrie(names), b).size, 0);
  assert.equal(b.used, 0);
  const b2 = matchBudget(1e9);
  assert.deepEqual([...c.filter(nameTrie([...names, 'x39999']), b2)], ['x39999']);
  assert.ok(b2.used > 0);
});
