import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { complete, suggestPatterns } from '../../../../language-server/src/services/completion';
import { cursorContext } from '../../../../language-server/src/services/cursor';
import { analysisOf, cursor, storiesLayers, BASE } from '../fixtures';
import { METHODS } from '../../../../protocol/plan';

const labels = (textWithMarker: string, layers = storiesLayers(), uri?: string) => {
  const { text, offset } = cursor(textWithMarker);
  return complete(analysisOf(text, layers, uri), offset).map((c) => c.label);
};

test('cursor context finds key and value positions in half-typed documents', () => {
  const c1 = cursor('version: 1\ncalibration:\n  sam|\n');
  assert.deepEqual(
    { ...cursorContext(c1.text, c1.offset), siblings: undefined },
    { kind: 'key', path: ['calibration'], partial: 'sam', replace: { start: c1.offset - 3, end: c1.offset }, siblings: undefined },
  );
  const c2 = cursor('layers:\n  - match: x\n    bits: 8\n  - match: y\n    meth|');
  assert.deepEqual(cursorContext(c2.text, c2.offset)?.path, ['layers', '1']);
  const c3 = cursor('defaults: { method: gp| }');
  assert.deepEqual(cursorContext(c3.text, c3.offset)?.path, ['defaults', 'method']);
  assert.equal(cursorContext(c3.text, c3.offset)?.kind, 'value');
  const c4 = cursor('# a comment mo|');
  assert.equal(cursorContext(c4.text, c4.offset), undefined);
});

test('top-level keys, minus the ones already present', () => {
  const got = labels('version: 1\nmodel: m.onnx\n|');
  assert.ok(got.includes('output') && got.includes('calibration') && got.includes('layers'));
  assert.ok(!got.includes('model') && !got.includes('version'));
});

test('rule keys inside a rule and enum values for method', () => {
  const rule = labels(`${BASE}layers:\n  - match: output\n    |`);
  assert.deepEqual(rule.sort(), ['bits', 'format', 'group_size', 'method', 'settings', 'skip', 'sparsity', 'symmetric']);
  const methods = labels(`${BASE}layers:\n  - match: output\n    method: |`);
  assert.ok(
    methods.includes('gptq') &&
      methods.includes('flrq') &&
      methods.includes('hqq') &&
      methods.includes('sparsegpt') &&
      methods.length === METHODS.length,
  );
  assert.deepEqual(labels('format: |'), ['auto', 'matmulnbits', 'qdq', 'packed', 'fake']);
  assert.deepEqual(labels('evaluate:\n  metrics: [perplexity, |]').includes('kl_divergence'), true);
  // Block-list items of a list of enum values complete as values; a rule item still completes keys.
  assert.ok(labels('evaluate:\n  metrics:\n    - perplexity\n    - kl|').includes('kl_divergence'));
  assert.ok(labels('evaluate:\n  metrics:\n    - |').includes('top1_agreement'));
  assert.ok(labels('layers:\n  - mat|').includes('match'));
});

test('sparsity completes a fraction and the N:M patterns', () => {
  assert.deepEqual(labels(`${BASE}layers:\n  - match: output\n    method: sparsegpt\n    sparsity: |`), ['0.5', '"2:4"', '"4:8"']);
});

test('method settings follow the chosen method', () => {
  assert.deepEqual(labels(`${BASE}methods:\n  gptq:\n    |`).sort(), [
    'act_order',
    'asymmetric',
    'asymmetric_alpha',
    'block_size',
    'damp',
    'static_groups',
  ]);
  assert.deepEqual(labels(`${BASE}methods:\n  smoothquant: { | }`).sort(), ['activation_bits', 'alpha', 'sparsity_method']);
  assert.deepEqual(labels(`${BASE}layers:\n  - match: output\n    method: lorc\n    settings:\n      |`).sort(), [
    'factor_bits',
    'quantizer',
    'rank',
  ]);
  // defaults.method is gptq in BASE
  assert.ok(labels(`${BASE}layers:\n  - match: output\n    settings:\n      |`).includes('damp'));
});

test('layer names and glob patterns from the model for match', () => {
  const got = labels(`${BASE}layers:\n  - match: |`);
  assert.ok(got.includes('layers.3.w2'));
  assert.ok(got.includes('output'));
  assert.ok(got.includes('layers.*.w2'), got.slice(0, 10).join(','));
  assert.deepEqual(labels(`${BASE}layers:\n  - match: |`, undefined as never).length >= 36, true);
  assert.ok(suggestPatterns(['a.0.x', 'a.1.x']).includes('a.*.x'));
});

test('file paths relative to the recipe', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-compl-'));
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'data', 'calib.txt'), 'x');
  fs.writeFileSync(path.join(dir, 'model.onnx'), 'x');
  const uri = `file://${dir}/r.lowbit.yaml`;
  assert.ok(labels('model: |', [], uri).includes('model.onnx'));
  assert.deepEqual(labels('calibration:\n  text: data/|', [], uri), ['calib.txt']);
  fs.rmSync(dir, { recursive: true });
});

test('a fresh rule item and an empty flow map complete their keys', () => {
  assert.ok(labels(`${BASE}layers:\n  - |`).includes('match'));
  assert.deepEqual(labels('defaults: { | }').sort(), ['bits', 'group_size', 'method', 'settings', 'sparsity', 'symmetric']);
  assert.ok(labels('|').includes('model'));
});
