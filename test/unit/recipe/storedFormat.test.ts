import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storedFormatFor } from '../../../recipe/storedFormat';
import { readRecipe } from '../../../recipe/checkRecipe';
import { resolvePlan } from '../../../recipe/resolvePlan';
import type { LayerInfo } from '../../../protocol/model';
import { analysisOf, slice } from '../language-server/fixtures';
import { diagnose } from '../../../language-server/src/services/diagnostics';

const RECIPE = '/tmp/lowbit-test/recipe.lowbit.yaml';

test('auto picks per op, bits and opset; fixed formats are kept (binarized → packed)', () => {
  const at = (op: string, opset: number) => ({ op, opset });
  assert.deepEqual(storedFormatFor('auto', at('MatMul', 9), 'gptq', 4, 32), { format: 'matmulnbits', bits: 4, groupSize: 32 });
  assert.equal(storedFormatFor('auto', at('MatMul', 21), 'rtn', 3, 32).format, 'packed');
  assert.equal(storedFormatFor('auto', at('MatMul', 21), 'rtn', 4, 24).format, 'packed');
  // Below opset 21: Conv and Gemm become per-channel int8 QDQ, with a note saying why.
  const conv = storedFormatFor('auto', at('Conv', 9), 'gptq', 4, 32);
  assert.deepEqual({ ...conv, note: undefined }, { format: 'qdq', bits: 8, groupSize: -1, note: undefined });
  assert.match(conv.note!, /opset 9 < 21/);
  assert.deepEqual(storedFormatFor('auto', at('Gemm', 13), 'rtn', 8, -1), { format: 'qdq', bits: 8, groupSize: -1 });
  assert.equal(storedFormatFor('auto', at('ConvTranspose', 11), 'rtn', 4, 32).format, 'qdq');
  assert.match(storedFormatFor('auto', at('ConvTranspose', 11), 'rtn', 4, 32).note!, /raised to 21/);
  assert.equal(storedFormatFor('auto', at('ConvTranspose', 21), 'rtn', 3, 32).format, 'fake');
  // At 21: blocked int4 as asked.
  assert.deepEqual(storedFormatFor('auto', at('Conv', 21), 'gptq', 4, 32), { format: 'qdq', bits: 4, groupSize: 32 });
  assert.deepEqual(storedFormatFor('auto', at('ConvTranspose', 21), 'gptq', 4, 16), { format: 'qdq', bits: 4, groupSize: 16 });
  assert.equal(storedFormatFor('auto', at('Gemm', 21), 'rtn', 2, 32).format, 'packed');
  // Embedding tables: GatherBlockQuantized (written under matmulnbits) holds 4/8 bits in power-of-2 groups ≥ 16.
  assert.deepEqual(storedFormatFor('auto', at('Gather', 13), 'rtn', 4, 32), { format: 'matmulnbits', bits: 4, groupSize: 32 });
  assert.equal(storedFormatFor('auto', at('Gather', 13), 'rtn', 8, 128).format, 'matmulnbits');
  assert.equal(storedFormatFor('auto', at('Gather', 21), 'rtn', 3, 32).format, 'fake');
  assert.match(storedFormatFor('auto', at('Gather', 21), 'rtn', 4, 24).note!, /GatherBlockQuantized/);
  assert.equal(storedFormatFor('auto', at('MatMul', 21), 'billm', 1, 128).format, 'packed');
  // Fixed formats: what was asked, except binarized methods under an integer-grid format.
  assert.deepEqual(storedFormatFor('qdq', at('Conv', 9), 'gptq', 4, 32), { format: 'qdq', bits: 4, groupSize: 32 });
  assert.equal(storedFormatFor('matmulnbits', at('MatMul', 9), 'pbllm', 1, 128).format, 'packed');
  assert.equal(storedFormatFor('fake', at('MatMul', 9), 'billm', 1, 128).format, 'fake');
});

function mixedLayers(opset: number): LayerInfo[] {
  const l = (name: string, op: string, shape: [number, number]): LayerInfo => ({
    name,
    op,
    node: `${name}_node`,
    shape,
    dims: [shape[0], shape[1]],
    params: shape[0] * shape[1],
    dtype: 'float32',
    quantizable: true,
    opset,
  });
  return [
    l('conv1.w', 'Conv', [16, 27]),
    l('conv2.w', 'Conv', [32, 144]),
    l('up.w', 'ConvTranspose', [64, 32]),
    l('fc.w', 'Gemm', [10, 64]),
    l('proj.w', 'MatMul', [64, 64]),
  ];
}

const HEAD = `version: 1
model: ./model.onnx
output: ./out/model-w4.onnx
defaults: { method: rtn, bits: 4, group_size: 32 }
`;

test("the plan carries each layer's stored format; auto is the default and says what it changed at the line that set it", () => {
  const { plan, diagnostics } = resolvePlan(readRecipe(HEAD), mixedLayers(9), RECIPE);
  assert.ok(plan, JSON.stringify(diagnostics));
  assert.equal(plan.format, 'auto');
  const by = Object.fromEntries(plan.layers.map((l) => [l.name, [l.format, l.bits, l.groupSize]]));
  assert.deepEqual(by, {
    'conv1.w': ['qdq', 8, -1],
    'conv2.w': ['qdq', 8, -1],
    'up.w': ['qdq', 4, 32],
    'fc.w': ['qdq', 8, -1],
    'proj.w': ['matmulnbits', 4, 32],
  });
  const info = diagnostics.filter((d) => d.code === 'auto-format');
  assert.equal(info.length, 3, JSON.stringify(info)); // Conv, Gemm, ConvTranspose
  assert.ok(info.every((d) => d.severity === 'information'));
  assert.equal(slice(HEAD, info[0].span), '4'); // defaults.bits set what auto changed
  // No group-size complaint for layers auto stores per channel (conv1 is 27 wide, less than 32).
  assert.equal(diagnostics.filter((d) => d.code === 'group-too-large').length, 0);
  const at21 = resolvePlan(readRecipe(HEAD), mixedLayers(21), RECIPE).plan!;
  assert.deepEqual(
    at21.layers.map((l) => [l.format, l.bits]),
    [
      ['qdq', 4],
      ['qdq', 4],
      ['qdq', 4],
      ['qdq', 4],
      ['matmulnbits', 4],
    ],
  );
});

test("a rule's format that cannot hold its layers' op or bits is an error at that rule's line, in the editor and the plan", () => {
  const text = `${HEAD}layers:
  - match: "conv*"
    format: matmulnbits
  - match: fc.w
    bits: 3
    format: qdq
  - match: proj.w
    format: packed
    bits: 3
`;
  const { plan, diagnostics } = resolvePlan(readRecipe(text), mixedLayers(21), RECIPE);
  assert.equal(plan, undefined);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 2, JSON.stringify(errors));
  const op = errors.find((d) => d.code === 'unsupported-format-op')!;
  assert.equal(slice(text, op.span), 'matmulnbits');
  assert.equal(text.slice(0, op.span.start).split('\n').length, 7);
  assert.match(op.message, /matmulnbits cannot hold Conv layers .*use format: qdq, packed or auto.*conv1\.w, conv2\.w/);
  const bits = errors.find((d) => d.code === 'unsupported-bits')!;
  assert.equal(text.slice(0, bits.span.start).split('\n').length, 10);
  assert.match(bits.message, /qdq cannot store 3-bit weights .*fc\.w/);
  // The editor shows the same diagnostics at the same places.
  const a = analysisOf(text, mixedLayers(21));
  const editor = diagnose(a, () => true).filter((d) => d.severity === 1);
  assert.deepEqual(editor.map((d) => [d.code, a.doc.offsetAt(d.range.start)]).sort(), errors.map((d) => [d.code, d.span.start]).sort());
});

test("a fixed top-level matmulnbits keeps today's behaviour for Conv layers (a warning, written fake-quant at export)", () => {
  const text = HEAD.replace('version: 1\n', 'version: 1\nformat: matmulnbits\n');
  const { plan, diagnostics } = resolvePlan(readRecipe(text), mixedLayers(9), RECIPE);
  assert.ok(plan);
  const w = diagnostics.find((d) => d.code === 'unsupported-format-op' && /Conv layers/.test(d.message))!;
  assert.equal(w.severity, 'warning');
  assert.equal(slice(text, w.span), 'matmulnbits');
  assert.ok(plan.layers.every((l) => l.format === 'matmulnbits'));
});
