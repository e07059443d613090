import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRecipe } from '../../../recipe/checkRecipe';
import { resolvePlan } from '../../../recipe/resolvePlan';
import { storiesLayers } from '../language-server/fixtures';

const RECIPE = '/tmp/lowbit-test/recipe.lowbit.yaml';
const HEAD = `version: 1
model: ./model.onnx
output: ./out/model.onnx
format: auto
defaults: { method: sparsegpt, bits: 4, group_size: 32 }
`;

/** The diagnostics of `text` with the 1-based line each sits on. */
function diagnose(text: string) {
  const { plan, diagnostics } = resolvePlan(readRecipe(text), storiesLayers(), RECIPE);
  const line = (offset: number) => text.slice(0, offset).split('\n').length;
  return { plan, diags: diagnostics.map((d) => ({ ...d, line: line(d.span.start) })) };
}

test('sparsity: a fraction or 2:4 / 4:8 per rule reaches the plan; auto stores sparse layers packed', () => {
  const { plan, diags } = diagnose(`${HEAD}layers:
  - match: "layers.*.wq"
    sparsity: 0.5
  - match: "layers.*.wk"
    sparsity: "2:4"
  - match: "layers.*.w1"
    method: wanda
    sparsity: "4:8"
  - match: output
    skip: true
`);
  assert.deepEqual(
    diags.filter((d) => d.severity === 'error'),
    [],
  );
  const by = new Map(plan!.layers.map((l) => [l.name, l]));
  assert.deepEqual(by.get('layers.0.wq')!.sparsity, { ratio: 0.5 });
  assert.equal(by.get('layers.0.wq')!.format, 'packed');
  assert.deepEqual(by.get('layers.2.wk')!.sparsity, { n: 2, m: 4 });
  assert.deepEqual(by.get('layers.1.w1')!.sparsity, { n: 4, m: 8 });
  assert.equal(by.get('layers.1.w1')!.method, 'wanda');
  assert.equal(by.get('layers.0.wv')!.sparsity, undefined, 'sparsity 0 = dense, no sparsity in the plan');
  assert.equal(by.get('layers.0.wv')!.format, 'matmulnbits');
});

test('sparsity with a method that cannot prune is an error on the rule line', () => {
  const { diags } = diagnose(`${HEAD}layers:
  - match: "layers.*.wq"
    method: gptq
    sparsity: 0.5
`);
  const e = diags.find((d) => d.code === 'sparsity-method');
  assert.ok(e, JSON.stringify(diags));
  assert.equal(e.severity, 'error');
  assert.equal(e.line, 9);
  assert.match(e.message, /gptq cannot prune.*sparsegpt, wanda, magnitude or jsq.*layers\.0\.wq/);
});

test('N:M with an input width not divisible by M is an error naming the layers (w2 is 172 wide)', () => {
  const { diags } = diagnose(`${HEAD}layers:
  - match: "layers.*.w2"
    sparsity: "4:8"
`);
  const e = diags.find((d) => d.code === 'sparsity-width');
  assert.ok(e, JSON.stringify(diags));
  assert.equal(e.line, 8);
  assert.match(e.message, /multiple of 8.*layers\.0\.w2.*172/);
  assert.equal(
    diagnose(`${HEAD}layers:
  - match: "layers.*.w2"
    sparsity: "2:4"
`).diags.some((d) => d.code === 'sparsity-width'),
    false,
    '172 is a multiple of 4',
  );
});

test('sparsegpt N:M needs group sizes and block sizes that are multiples of M', () => {
  const { diags } = diagnose(`${HEAD}layers:
  - match: "layers.*.wq"
    sparsity: "4:8"
    group_size: 20
    format: packed
methods:
  sparsegpt: { block_size: 100 }
`);
  const g = diags.find((d) => d.code === 'sparsity-group');
  assert.ok(g, JSON.stringify(diags));
  assert.equal(g.line, 9);
  assert.ok(diags.some((d) => d.code === 'sparsity-block' && d.severity === 'error'));
});

test('matmulnbits / qdq keep dense zeros: said on the format line', () => {
  const { diags } = diagnose(`${HEAD}layers:
  - match: "layers.*.wq"
    sparsity: 0.5
    format: matmulnbits
`);
  const i = diags.find((d) => d.code === 'sparsity-dense');
  assert.ok(i, JSON.stringify(diags));
  assert.equal(i.severity, 'information');
  assert.equal(i.line, 9);
  assert.match(i.message, /dense zeros/);
});

test('bad sparsity values are type errors; a pruning method without sparsity is noted', () => {
  for (const v of ['1', '-0.1', '"3:4"', '"half"', '[0.5]']) {
    const r = readRecipe(`${HEAD}layers:\n  - match: "*"\n    sparsity: ${v}\n`);
    const d = r.diagnostics.find((x) => x.code === 'type');
    assert.ok(d, `${v}: ${JSON.stringify(r.diagnostics)}`);
    assert.match(d.message, /`layers\[0\]\.sparsity` must be a number ≥ 0 and < 1, or "2:4" or "4:8"/);
  }
  const { diags } = diagnose(HEAD);
  assert.ok(diags.some((d) => d.code === 'no-sparsity' && /prunes nothing \(it is gptq\)/.test(d.message)));
});

test('smoothquant / awq take sparsity: pruned after scaling, by sparsity_method (wanda by default); auto stores them packed', () => {
  const { plan, diags } = diagnose(`${HEAD}layers:
  - match: "layers.*.wq"
    method: smoothquant
    bits: 8
    sparsity: 0.5
    settings: { activation_bits: 8 }
  - match: "layers.*.wk"
    method: smoothquant
    sparsity: "2:4"
    settings: { sparsity_method: sparsegpt }
  - match: "layers.*.w1"
    method: awq
    sparsity: 0.5
  - match: "layers.*.wv"
    method: awq
`);
  assert.deepEqual(
    diags.filter((d) => d.severity === 'error'),
    [],
  );
  const by = new Map(plan!.layers.map((l) => [l.name, l]));
  assert.deepEqual(by.get('layers.0.wq')!.sparsity, { ratio: 0.5 });
  assert.equal(by.get('layers.0.wq')!.format, 'packed');
  assert.equal(by.get('layers.0.wq')!.settings.sparsity_method, 'wanda');
  assert.deepEqual(by.get('layers.3.wk')!.sparsity, { n: 2, m: 4 });
  assert.equal(by.get('layers.3.wk')!.settings.sparsity_method, 'sparsegpt');
  assert.equal(by.get('layers.1.w1')!.method, 'awq');
  assert.deepEqual(by.get('layers.1.w1')!.sparsity, { ratio: 0.5 });
  assert.equal(by.get('layers.0.wv')!.sparsity, undefined, 'awq without sparsity stays dense');
  assert.ok(!diags.some((d) => d.code === 'no-sparsity' && /awq|smoothquant/.test(d.message)));
});

test('pruning after scaling: SparseGPT N:M needs group sizes that are multiples of M; osplus cannot prune; dense formats say so', () => {
  const { diags } = diagnose(`${HEAD}layers:
  - match: "layers.*.wq"
    method: smoothquant
    sparsity: "4:8"
    group_size: 20
    settings: { sparsity_method: sparsegpt }
  - match: "layers.*.wk"
    method: osplus
    sparsity: 0.5
  - match: "layers.*.w1"
    method: awq
    sparsity: 0.5
    format: qdq
`);
  const g = diags.find((d) => d.code === 'sparsity-group');
  assert.ok(g, JSON.stringify(diags));
  assert.equal(g.line, 10);
  assert.match(
    g.message,
    /smoothquant with sparsity_method sparsegpt with 4:8 sparsity needs a group size that is a multiple of 8 \(got 20\)/,
  );
  const m = diags.find((d) => d.code === 'sparsity-method');
  assert.ok(m && m.severity === 'error' && m.line === 14, JSON.stringify(diags));
  assert.match(m.message, /osplus cannot prune.*or smoothquant \/ awq, which prune after scaling.*layers\.0\.wk/);
  const d = diags.find((x) => x.code === 'sparsity-dense');
  assert.ok(d && d.line === 18 && /qdq has no sparse form.*layers\.0\.w1/.test(d.message), JSON.stringify(diags));
  // The same N:M with Wanda (no group constraint) is fine.
  assert.ok(
    !diagnose(`${HEAD}layers:
  - match: "layers.*.wq"
    method: smoothquant
    sparsity: "4:8"
    group_size: 20
`).diags.some((x) => x.code === 'sparsity-group'),
  );
});

test('jsq on a Conv layer is an error on the method line naming the layer; on MatMul it is fine', () => {
  const layers = storiesLayers();
  layers.push({ ...layers[0], name: 'conv.0', op: 'Conv', node: 'Conv_0', dims: [64, 16, 2, 2] });
  const text = `${HEAD}layers:
  - match: "conv.*"
    method: jsq
    sparsity: 0.5
  - match: "layers.0.wq"
    method: jsq
    sparsity: 0.5
`;
  const { diagnostics } = resolvePlan(readRecipe(text), layers, RECIPE);
  const e = diagnostics.filter((d) => d.code === 'jsq-op');
  assert.equal(e.length, 1, JSON.stringify(diagnostics));
  assert.equal(e[0].severity, 'error');
  assert.equal(text.slice(0, e[0].span.start).split('\n').length, 8);
  assert.match(e[0].message, /jsq needs MatMul or Gemm layers.*conv\.0 is Conv/);
});
