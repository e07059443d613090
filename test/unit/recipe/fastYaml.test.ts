import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseRecipeSubset } from '../../../recipe/fastYaml';
import { parseYaml, PARSE_LIMITS } from '../../../recipe/parse';

const root = path.resolve(__dirname, '..', '..', '..');

/** The fast path's tree must be exactly the `yaml` path's tree whenever it accepts the text. */
function agrees(text: string): boolean {
  const fast = parseRecipeSubset(text, PARSE_LIMITS);
  if (!fast) return false;
  const slow = parseYaml(text, { fast: false });
  assert.equal(slow.diagnostics.length, 0, `yaml has diagnostics for text the fast path accepted:\n${text}`);
  assert.deepEqual(fast, slow.root, `trees differ for:\n${text}`);
  return true;
}

const SHAPES = [
  'version: 1\nmodel: ./m.onnx   # comment\ncalibration:\n  samples: 64\n',
  'version: 1  # c\nmodel: "a b"\nz: \'x\'\nq:\nlayers:\n  - match: a.b   \n    bits: 4\n    # comment\n  - {match: "x", bits: 8}\n  -   {  match: x  ,bits: 8 }  # t\n  - k: v\n\n# end\n',
  "# head\n\nversion: 1\nlayers:\n- match: 're:layers\\.[0-9]+'\n- {match: a, settings: {damp: 0.01, act_order: true}}\nseed: -3\n",
  'a: [1, 2.5, -0.5, .5, 1e3, 1E-2, 0x1F, 0o17, +7, 1., 007]\nb: {x: null, y: ~, z: Null, w: TRUE, v: False}\nc: []\nd: {}\n',
  'image: { height: 48, width: -1, mean: [0.5, 0.5, 0.5], layout: nchw }\nmetrics: [cer, output_agreement, size]\n',
  'a:\n  b:\n    c: 1\n    d: x/y.z\n  e: 2\nf: 3\n',
  'x: a#b\ny: "has # hash"\nz: \'single # too\'\nw: 99999999999999999999999\nv: 1e999\n',
  'defaults: { method: gptq, bits: 4, group_size: 32, symmetric: false, }\n',
  '  version: 1\n  model: m\n',
  'layers:\n  - match: layers.*.wq\n    settings:\n      damp: 0.1\n  - match: re:.*\n',
];

test('recipe shapes: the fast path gives the same tree as the yaml package', () => {
  for (const t of SHAPES) assert.ok(agrees(t), `expected the fast path to accept:\n${t}`);
});

test('the examples and fixture recipes: same tree as the yaml package', () => {
  const files = [
    ...fs.readdirSync(path.join(root, 'examples')).map((f) => path.join(root, 'examples', f)),
    ...fs.readdirSync(path.join(root, 'test/fixtures/recipes')).map((f) => path.join(root, 'test/fixtures/recipes', f)),
  ].filter((f) => f.endsWith('.lowbit.yaml'));
  assert.ok(files.length >= 5);
  let fast = 0;
  for (const f of files) if (agrees(fs.readFileSync(f, 'utf8'))) fast++;
  assert.ok(fast >= files.length - 1, `${fast} of ${files.length} took the fast path`);
});

test('anything outside the subset goes to the yaml package (and its diagnostics)', () => {
  const outside = [
    'a: &x 1\nb: *x\n',
    'a: 1\na: 2\n',
    'a: "esc\\n"\n',
    "a: 'it''s'\n",
    'a: |\n  block\n',
    'a: !!str 1\n',
    'a: b\n  c\n',
    'a:\tb\n',
    'a: 1\r\nb: 2\r\n',
    '---\na: 1\n',
    'a: [1,\n  2]\n',
    'a: {b: 1 # c\n}\n',
    'a: x: y\n',
    'a: .inf\n',
    '- a\n- b\n: c\n',
    'a:  \nb: 1\n',
    'a: # note\nb: 1\n',
    'a: "x"#c\n',
    '"quoted key": 1\n',
    'true: 1\n',
    'a:\n  -\n    b: 1\n',
    '',
    '# only a comment\n',
  ];
  for (const t of outside) {
    assert.equal(parseRecipeSubset(t, PARSE_LIMITS), undefined, `expected a fallback for ${JSON.stringify(t)}`);
    // …and the public entry still answers (through yaml).
    parseYaml(t);
  }
  assert.match(parseYaml('a: 1\na: 2\n').diagnostics[0].message, /YAML: Map keys must be unique/);
});

test('random recipe-like documents: whenever the fast path accepts, it agrees with yaml', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(a: readonly T[]): T => a[rnd(a.length)];
  const scalars = [
    '1',
    '-2',
    '0.5',
    '1e3',
    'x',
    'a.b',
    'layers.*.wq',
    '"q s"',
    "'q'",
    'null',
    '~',
    'true',
    'False',
    '',
    '0x10',
    're:.*Z',
    '1.',
    'a#b',
  ];
  const keys = ['a', 'bits', 'match', 'group_size', 'x.y', 'k-1', 'm/n'];
  const spaces = ['', ' ', '  '];
  const comment = () => (rnd(4) === 0 ? `${pick([' ', '  '])}# ${pick(['c', 'x: y', '#'])}` : '');
  const flow = (d: number): string => {
    if (d > 2 || rnd(3) === 0) return pick(scalars) || 'v';
    if (rnd(2)) return `[${Array.from({ length: rnd(3) }, () => flow(d + 1)).join(pick([', ', ',']))}]`;
    const ks = [...new Set(Array.from({ length: rnd(3) }, () => pick(keys)))];
    return `{${pick(spaces)}${ks.map((k) => `${k}${pick(['', ' '])}: ${flow(d + 1)}`).join(', ')}${pick(spaces)}}`;
  };
  const block = (indent: number, d: number): string[] => {
    const pad = ' '.repeat(indent);
    if (d > 0 && rnd(3) === 0) {
      return Array.from({ length: 1 + rnd(3) }, () => {
        const inner = rnd(2)
          ? [`${pad}- ${flow(0)}${comment()}`]
          : block(indent + 2, d + 1).map((l, i) => (i === 0 ? `${pad}- ${l.trimStart()}` : l));
        return inner;
      }).flat();
    }
    const ks = [...new Set(Array.from({ length: 1 + rnd(4) }, () => pick(keys)))];
    return ks.flatMap((k) => {
      if (d < 3 && rnd(3) === 0) return [`${pad}${k}:${comment()}`, ...(rnd(4) === 0 ? [''] : []), ...block(indent + 2, d + 1)];
      const v = rnd(2) ? flow(0) : pick(scalars);
      return [`${pad}${k}:${v === '' ? '' : ` ${v}`}${v === '' ? '' : comment()}`];
    });
  };
  let accepted = 0;
  for (let i = 0; i < 400; i++) {
    const text = block(0, 0).join('\n') + pick(['\n', '', '\n\n# end\n']);
    if (agrees(text)) accepted++;
  }
  assert.ok(accepted > 100, `only ${accepted} of 400 random documents took the fast path`);
});

test("issue 17's large recipes take the fast path (32k one-line rules, 54k short rules)", () => {
  const names = ['layers.0.wq', 'layers.1.wk', 'output'];
  const head = 'version: 1\nmodel: ./m.onnx\noutput: ./out.onnx\nformat: fake\nlayers:\n';
  const a = head + Array.from({ length: 32_000 }, (_, i) => `  - {match: "${names[i % 3]}", bits: ${i % 2 ? 4 : 8}}\n`).join('');
  const b = head + Array.from({ length: 54_000 }, (_, i) => `  - match: w${i}\n    bits: 4\n`).join('');
  for (const t of [a, b]) {
    const r = parseRecipeSubset(t, PARSE_LIMITS);
    assert.ok(r?.kind === 'map');
    const layers = r.entries.find((e) => e.key === 'layers')!.value!;
    assert.ok(layers.kind === 'seq' && layers.items.length > 30_000);
  }
  // The limits still apply: past them the text goes to yaml's path, which reports them.
  assert.equal(parseRecipeSubset(a, { ...PARSE_LIMITS, maxNodes: 1000 }), undefined);
  assert.equal(parseRecipeSubset('a:\n  b:\n    c: {d: [1]}\n', { ...PARSE_LIMITS, maxDepth: 4 }), undefined);
  assert.ok(parseRecipeSubset('a:\n  b:\n    c: {d: [1]}\n', { ...PARSE_LIMITS, maxDepth: 5 }));
});
