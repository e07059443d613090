import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetDiagnostics, readBudget } from '../../../recipe/budget';
import { budgetCandidates, candidateLabel } from '../../../recipe/budgetCandidates';
import { readRecipe } from '../../../recipe/checkRecipe';
import { applyEdit, suggestionEdit, SUGGEST_BEGIN } from '../../../recipe/suggestionEdit';
import { schemaAt } from '../../../recipe/schema';

const head = 'version: 1\nmodel: m.onnx\noutput: o.onnx\n';
const diags = (body: string) => {
  const text = head + body;
  const r = readRecipe(text);
  return budgetDiagnostics(r)
    .concat(r.diagnostics)
    .map((d) => ({ msg: d.message, at: text.slice(d.span.start, d.span.end) }));
};

test('the schema knows budget: (completion, hover and docs read it)', () => {
  assert.equal(schemaAt(['budget', 'bits_per_weight'])?.kind, 'number');
  assert.equal(schemaAt(['budget', 'estimate'])?.kind, 'enum');
});

test('readBudget: target, lists and defaults', () => {
  const b = readBudget(readRecipe(`${head}budget:\n  ratio: 0.25\n  bits: [2, 4]\n  group_sizes: [32]\n  methods: [rtn]\n`));
  assert.deepEqual(b, {
    target: { kind: 'ratio', value: 0.25 },
    methods: ['rtn'],
    bits: [2, 4],
    groupSizes: [32],
    estimate: 'kl',
    samples: 4,
  });
  assert.equal(readBudget(readRecipe(head)), undefined);
});

test('budget diagnostics name the key: two targets, none, bad bits, unpriceable method, nothing storable', () => {
  assert.deepEqual(
    diags('budget: { bits_per_weight: 3, bytes: 100 }\n').map((d) => d.at),
    ['bytes'],
  );
  assert.match(diags('budget: { bits: [2] }\n')[0].msg, /needs one of `bits_per_weight`, `bytes` or `ratio`/);
  assert.match(diags('budget: { bits_per_weight: 3, bits: [2, 9] }\n')[0].msg, /budget\.bits: 9 is not a bit width/);
  assert.match(diags('budget: { bits_per_weight: 3, methods: [awq] }\n')[0].msg, /awq folds input scaling/);
  assert.match(
    diags('format: qdq\nbudget: { bits_per_weight: 3, bits: [2, 3] }\n')[0].msg,
    /no candidate can be stored as qdq \(qdq stores 4\/8 bits, not 2\)/,
  );
  assert.deepEqual(diags('budget: { bits_per_weight: 3.5 }\n'), []);
});

test('default candidates per format; binarizers once per group; unstorable ones dropped', () => {
  assert.deepEqual(budgetCandidates('matmulnbits', true).map(candidateLabel), [
    'gptq 2-bit g32',
    'gptq 2-bit per-row',
    'gptq 4-bit g32',
    'gptq 4-bit per-row',
    'gptq 8-bit g32',
    'gptq 8-bit per-row',
  ]);
  assert.deepEqual(budgetCandidates('packed', false, { groupSizes: [-1] }).map(candidateLabel), [
    'rtn 1-bit per-row',
    'rtn 2-bit per-row',
    'rtn 3-bit per-row',
    'rtn 4-bit per-row',
    'rtn 8-bit per-row',
  ]);
  assert.deepEqual(budgetCandidates('packed', true, { methods: ['billm', 'gptq'], bits: [3], groupSizes: [128] }).map(candidateLabel), [
    'billm 1-bit g128',
    'gptq 3-bit g128',
  ]);
  assert.deepEqual(budgetCandidates('matmulnbits', true, { groupSizes: [48] }), []);
  // auto stores each layer in the form its op takes (3 bits and binarizers packed, odd groups too): all priced as that form.
  assert.deepEqual(budgetCandidates('auto', true, { methods: ['billm', 'gptq'], bits: [3, 4], groupSizes: [48] }).map(candidateLabel), [
    'billm 1-bit g48',
    'gptq 3-bit g48',
    'gptq 4-bit g48',
  ]);
  assert.deepEqual(budgetCandidates('auto', false, { groupSizes: [0] }), []);
});

const rules = '  # gptq 4-bit g32: 1 layer\n  - match: "a"\n    method: gptq\n    bits: 4\n    group_size: 32\n';

test("suggestionEdit appends after the user's rules, keeps their indentation, and replaces its own block", () => {
  const text = `${head}layers:\n    - match: output\n      skip: true\nevaluate: { samples: 2 }\n`;
  const once = applyEdit(text, suggestionEdit(text, rules, 'first'));
  assert.equal(
    once,
    `${head}layers:\n    - match: output\n      skip: true\n    ${SUGGEST_BEGIN} (first)\n    # gptq 4-bit g32: 1 layer\n    - match: "a"\n      method: gptq\n      bits: 4\n      group_size: 32\n    # lowbit suggest: end\nevaluate: { samples: 2 }\n`,
  );
  const r = readRecipe(once);
  assert.equal(r.diagnostics.length, 0);
  assert.deepEqual(
    r.rules.map((x) => x.match?.value),
    ['output', 'a'],
  );
  const twice = applyEdit(once, suggestionEdit(once, rules.replace('bits: 4', 'bits: 2'), 'second'));
  assert.equal(twice.split(SUGGEST_BEGIN).length, 2);
  assert.match(twice, /\(second\)[\s\S]*bits: 2/);
  assert.doesNotMatch(twice, /bits: 4/);
});

test('suggestionEdit writes a layers: section when there is none or it is empty', () => {
  for (const text of [head, `${head}layers: []\nseed: 1\n`, head.trimEnd()]) {
    const out = applyEdit(text, suggestionEdit(text, rules, 's'));
    const r = readRecipe(out);
    assert.equal(r.diagnostics.length, 0, out);
    assert.deepEqual(
      r.rules.map((x) => x.bits?.value),
      [4],
      out,
    );
  }
});
