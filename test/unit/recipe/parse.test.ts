import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, entryOf } from '../../../recipe/parse';
import { readRecipe } from '../../../recipe/checkRecipe';
import { slice, BASE } from '../language-server/fixtures';

test('keys and values carry exact source ranges', () => {
  const text = 'version: 1\nmodel: ./m.onnx   # comment\ncalibration:\n  samples: 64\n';
  const p = parseYaml(text);
  assert.equal(p.diagnostics.length, 0);
  const model = entryOf(p.root, 'model')!;
  assert.equal(slice(text, model.keySpan), 'model');
  assert.equal(slice(text, model.value!.span), './m.onnx');
  const samples = entryOf(entryOf(p.root, 'calibration')!.value, 'samples')!;
  assert.equal(slice(text, samples.value!.span), '64');
});

test('a syntax error is reported at its position and the rest still parses', () => {
  const text = 'version: 1\nmodel: [unclosed\noutput: ./o.onnx\n';
  const r = readRecipe(text);
  const syntax = r.diagnostics.filter((d) => d.code === 'yaml');
  assert.ok(syntax.length >= 1);
  assert.ok(syntax[0].span.start >= text.indexOf('['), JSON.stringify(syntax[0]));
  assert.equal(r.values.version?.value, 1);
});

test('unknown keys get did-you-mean at the key range', () => {
  const text = `${BASE}calibraton:\n  samples: 4\n`;
  const r = readRecipe(text);
  const d = r.diagnostics.find((x) => x.code === 'unknown-key')!;
  assert.equal(slice(text, d.span), 'calibraton');
  assert.match(d.message, /Did you mean `calibration`/);
  assert.deepEqual(d.data, { replacement: 'calibration' });
});

test('wrong types, out-of-range values and huge numbers are errors at the value', () => {
  const text = `${BASE}calibration:\n  samples: lots\n  sequence_length: 0\n  offset: 1e999\nseed: 99999999999999999999999\n`;
  const r = readRecipe(text);
  const at = (s: string) => r.diagnostics.find((d) => slice(text, d.span) === s);
  assert.match(at('lots')!.message, /`calibration.samples` must be an integer/);
  assert.match(at('0')!.message, /got 0/);
  assert.ok(at('1e999'), 'infinite number reported');
  assert.ok(at('99999999999999999999999'), 'unsafe integer reported');
  assert.equal(r.values['calibration.samples'], undefined);
});

test('a setting the method does not take names the method that does', () => {
  const text = `${BASE}methods:\n  rtn: { damp: 0.1 }\n  gptq: { alpha: 0.5, dmp: 0.1 }\n`;
  const r = readRecipe(text);
  const damp = r.diagnostics.find((d) => slice(text, d.span) === 'damp')!;
  assert.match(damp.message, /rtn does not take `damp`.*gptq/);
  const alpha = r.diagnostics.find((d) => slice(text, d.span) === 'alpha')!;
  assert.match(alpha.message, /smoothquant/);
  const dmp = r.diagnostics.find((d) => slice(text, d.span) === 'dmp')!;
  assert.deepEqual(dmp.data, { replacement: 'damp' });
});

test('missing required keys and half-typed documents do not throw', () => {
  for (const text of ['', 'mod', 'model:', 'layers:\n  - ', 'layers:\n  - match: "layers.*\n', '- a\n- b', ':::', 'defaults: {method: ']) {
    const r = readRecipe(text);
    assert.ok(Array.isArray(r.diagnostics), text);
  }
  const r = readRecipe('version: 1\n');
  assert.deepEqual(
    r.diagnostics.filter((d) => d.code === 'missing-key').map((d) => d.data?.key),
    ['model', 'output'],
  );
});

test('hostile input is bounded: alias bombs, deep nesting, huge documents', () => {
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 10; i++)
    bomb.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(',')}]`,
    );
  let t0 = Date.now();
  const r1 = parseYaml(bomb.join('\n'));
  assert.ok(
    r1.diagnostics.some((d) => /alias|too many/i.test(d.message)),
    JSON.stringify(r1.diagnostics),
  );
  assert.ok(Date.now() - t0 < 2000);
  t0 = Date.now();
  const deep = parseYaml(`a: ${'['.repeat(100000)}`);
  assert.ok(deep.diagnostics.some((d) => d.code === 'too-deep'));
  const deepBlock = parseYaml(Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'));
  assert.ok(deepBlock.diagnostics.some((d) => d.code === 'too-deep'));
  const huge = parseYaml('a: 1\n'.repeat(600000));
  assert.equal(huge.diagnostics[0].code, 'too-large');
  assert.ok(Date.now() - t0 < 5000);
});
