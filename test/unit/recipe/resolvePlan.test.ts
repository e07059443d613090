import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readRecipe } from '../../../recipe/checkRecipe';
import { resolvePlan, reportPathFor, deadRules, ruleMatches } from '../../../recipe/resolvePlan';
import { compilePattern, matchLayers } from '../../../recipe/match';
import { storiesLayers, slice, BASE } from '../language-server/fixtures';

const RECIPE = '/tmp/lowbit-test/recipe.lowbit.yaml';

test('rules apply in order, later overriding earlier field by field', () => {
  const text = `${BASE}layers:
  - match: "layers.*.w2"
    bits: 8
    symmetric: true
  - match: layers.0.w2
    bits: 2
  - match: output
    skip: true
methods:
  gptq: { damp: 0.05 }
`;
  const { plan, diagnostics } = resolvePlan(readRecipe(text), storiesLayers(), RECIPE);
  assert.deepEqual(
    diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  assert.ok(plan);
  const by = new Map(plan.layers.map((l) => [l.name, l]));
  assert.deepEqual(
    { ...by.get('layers.0.w2')!, settings: undefined },
    {
      name: 'layers.0.w2',
      method: 'gptq',
      bits: 2,
      groupSize: 32,
      symmetric: true,
      format: 'matmulnbits',
      settings: undefined,
      rules: [0, 1],
    },
  );
  assert.equal(by.get('layers.1.w2')!.bits, 8);
  assert.equal(by.get('layers.1.wq')!.bits, 4);
  assert.equal(by.get('layers.1.wq')!.settings.damp, 0.05);
  assert.equal(by.get('layers.1.wq')!.settings.block_size, 128);
  assert.equal(by.has('output'), false);
  assert.deepEqual(plan.skipped, [{ name: 'output', rule: 2 }]);
  assert.equal(plan.layers.length, 35);
  assert.equal(plan.modelPath, path.resolve('/tmp/lowbit-test/model.onnx'));
  assert.equal(plan.reportPath, '/tmp/lowbit-test/out/model-w4.report.json');
  assert.equal(plan.calibration.kind, 'random');
});

test('reportPathFor swaps .onnx for .report.json', () => {
  assert.equal(reportPathFor('/a/b.onnx'), '/a/b.report.json');
  assert.equal(reportPathFor('/a/b'), '/a/b.report.json');
});

test('globs and regexes match layer names; non-regular regexes are refused', () => {
  const names = storiesLayers().map((l) => l.name);
  assert.equal(matchLayers('layers.*.w2', names).length, 5);
  assert.equal(matchLayers('layers.{0,1}.w[13]', names).length, 4);
  assert.equal(matchLayers('re:layers\\.[0-2]\\.wq', names).length, 3);
  assert.equal(matchLayers('layers.?.wq', names).length, 5);
  assert.equal(matchLayers('layers.0', names).length, 0);
  // Nested quantifiers are fine now (linear-time automaton); lookaround and backreferences are not regular.
  assert.equal(compilePattern('re:(a+)+$').ok, true);
  assert.equal(compilePattern('re:[').ok, false);
  assert.equal(compilePattern('re:(a)\\1').ok, false);
  assert.equal(compilePattern('re:a(?=b)').ok, false);
});

test('model checks: no match, dead rule, bits and group size the format cannot store', () => {
  const text = `${BASE}layers:
  - match: "layers.*.w9"
    bits: 8
  - match: "layers.0.*"
    bits: 8
  - match: "layers.*"
    bits: 3
  - match: output
    group_size: 24
  - match: layers.4.w2
    method: billm
`;
  const r = readRecipe(text);
  const { plan, diagnostics } = resolvePlan(r, storiesLayers(), RECIPE);
  assert.equal(plan, undefined);
  const find = (code: string) => diagnostics.filter((d) => d.code === code);
  assert.equal(slice(text, find('no-match')[0].span), '"layers.*.w9"');
  const dead = find('dead-rule');
  assert.equal(dead.length, 1);
  assert.match(slice(text, dead[0].span), /^match: "layers\.0\.\*"\n\s+bits: 8/);
  const bits = find('unsupported-bits');
  assert.equal(bits.length, 1);
  assert.equal(slice(text, bits[0].span), '3');
  assert.match(bits[0].message, /matmulnbits cannot store 3-bit/);
  assert.equal(bits[0].data?.bits, 4);
  const group = find('bad-group');
  assert.equal(slice(text, group[0].span), '24');
  assert.match(group[0].message, /power of 2/);
  // A binarized rule under matmulnbits is no error: its layers are stored packed (information).
  assert.equal(find('unsupported-format').length, 0);
  const fmt = find('format-fallback');
  assert.equal(slice(text, fmt[0].span), 'billm');
  assert.equal(fmt[0].severity, 'information');
  assert.equal(fmt[0].data?.format, 'packed');
  assert.match(fmt[0].message, /billm weights fit no matmulnbits grid; they are stored packed .* layers\.4\.w2/);
  assert.deepEqual(deadRules(r, ruleMatches(r, storiesLayers())), [1]);
});

test('a skip later on makes earlier settings dead; output == model is an error', () => {
  const text =
    BASE.replace('./out/model-w4.onnx', './model.onnx') + 'layers:\n  - match: output\n    bits: 8\n  - match: output\n    skip: true\n';
  const { diagnostics } = resolvePlan(readRecipe(text), storiesLayers(), RECIPE);
  const same = diagnostics.find((d) => d.code === 'output-is-model')!;
  assert.equal(slice(text, same.span), './model.onnx');
  assert.equal(same.span.start, text.indexOf('./model.onnx', text.indexOf('output')));
  assert.ok(diagnostics.some((d) => d.code === 'dead-rule' && d.data?.rule === 0));
});

test('group sizes that do not suit a layer are flagged per layer', () => {
  const text = BASE.replace('group_size: 32', 'group_size: 128');
  const { plan, diagnostics } = resolvePlan(readRecipe(text), storiesLayers(), RECIPE);
  assert.ok(plan, 'warnings do not block the plan');
  const big = diagnostics.find((d) => d.code === 'group-too-large')!;
  assert.equal(slice(text, big.span), '128');
  assert.match(big.message, /input width .*\(64\)/);
});

test('binarization methods have fixed bits (stored fake when asked)', () => {
  const text =
    BASE.replace('matmulnbits', 'fake') + 'layers:\n  - match: "layers.*.w1"\n    method: pbllm\n    settings: { low_frac: 0.8 }\n';
  const { plan } = resolvePlan(readRecipe(text), storiesLayers(), RECIPE);
  const w1 = plan!.layers.find((l) => l.name === 'layers.0.w1')!;
  assert.equal(w1.method, 'pbllm');
  assert.equal(w1.bits, 1);
  assert.equal(w1.settings.low_frac, 0.8);
  assert.equal(w1.settings.high_bits, 8);
});

test('packed stores any method at any bits; under qdq binarized layers fall back to packed, other layers do not', () => {
  const rules = 'layers:\n  - match: "layers.*"\n    bits: 3\n  - match: "layers.*.w1"\n    method: dualbin\n';
  const packed = resolvePlan(readRecipe(BASE.replace('matmulnbits', 'packed') + rules), storiesLayers(), RECIPE);
  assert.deepEqual(
    packed.diagnostics.filter((d) => d.severity === 'error' || d.code === 'format-fallback'),
    [],
  );
  assert.equal(packed.plan!.layers.find((l) => l.name === 'layers.0.w1')!.bits, 2);
  const qdq = resolvePlan(readRecipe(BASE.replace('matmulnbits', 'qdq') + rules), storiesLayers(), RECIPE);
  assert.deepEqual(
    qdq.diagnostics.filter((d) => d.code === 'format-fallback').map((d) => d.data?.layers),
    [5],
  );
  // The 3-bit rtn/gptq rule is still an error under qdq (packed is offered as a quick fix, not applied).
  assert.ok(qdq.diagnostics.some((d) => d.code === 'unsupported-bits' && /qdq cannot store 3-bit/.test(d.message)));
});

test('methods that need activations warn without calibration data; evaluate.text needs a tokenizer', () => {
  const text = `${BASE}layers:\n  - match: output\n    method: rtn\nevaluate:\n  text: ./eval.txt\n`;
  const { diagnostics } = resolvePlan(readRecipe(text), storiesLayers(), RECIPE);
  const warn = diagnostics.filter((d) => d.code === 'no-calibration');
  assert.deepEqual(
    warn.map((d) => slice(text, d.span)),
    ['gptq'],
  );
  const tok = diagnostics.find((d) => d.code === 'missing-key' && d.data?.key === 'tokenizer')!;
  assert.equal(slice(text, tok.span), 'text');
});

test('gptq asymmetric (GPTAQ) without sequential calibration is an error on each setting that asks for it', () => {
  const body =
    'methods:\n  gptq:\n    asymmetric: true\nlayers:\n  - match: "layers.0.*"\n    settings: { asymmetric: true, asymmetric_alpha: 0.5 }\n  - match: output\n    settings: { asymmetric: false }\n';
  for (const mode of ['', 'calibration:\n  mode: parallel\n']) {
    const text = `${BASE}${mode}${body}`;
    const { diagnostics } = resolvePlan(readRecipe(text), storiesLayers(), RECIPE);
    const errs = diagnostics.filter((d) => d.code === 'gptaq-needs-sequential');
    assert.deepEqual(
      errs.map((d) => [d.severity, slice(text, d.span)]),
      [
        ['error', 'true'],
        ['error', 'true'],
      ],
    );
    assert.match(errs[0]!.message, /calibration\.mode: sequential/);
  }
  const seq = `${BASE}calibration:\n  mode: sequential\n${body}`;
  const { diagnostics, plan } = resolvePlan(readRecipe(seq), storiesLayers(), RECIPE);
  assert.equal(diagnostics.filter((d) => d.code === 'gptaq-needs-sequential').length, 0);
  const l0 = plan!.layers.find((l) => l.name.startsWith('layers.0.'))!;
  assert.deepEqual([l0.settings.asymmetric, l0.settings.asymmetric_alpha], [true, 0.5]);
  assert.equal(plan!.layers.find((l) => l.name === 'output')?.settings.asymmetric ?? false, false);
});
