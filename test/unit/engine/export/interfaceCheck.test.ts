import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkInterfaceKept } from '../../../../engine/export/interfaceCheck';
import type { GraphProto } from '../../../../engine/onnx/onnxProto';
import { DT } from '../../../../engine/onnx/tensor';
import { node, vi } from '../onnx/tinyModels';

function decoder(): GraphProto {
  return {
    name: 'g',
    initializer: [],
    valueInfo: [],
    unknown: [],
    node: [node('MatMul', ['input_ids_f', 'W'], ['logits']), node('Concat', ['past_key_values.0.key', 'k'], ['present.0.key'])],
    input: [vi('input_ids', DT.INT64, ['b', 's']), vi('past_key_values.0.key', DT.FLOAT, ['b', 4, 'p', 8])],
    output: [vi('logits', DT.FLOAT, ['b', 's', 8]), vi('present.0.key', DT.FLOAT, ['b', 4, 't', 8])],
  };
}

test('an export that keeps every input and output passes', () => {
  checkInterfaceKept(decoder(), decoder(), 'm.onnx');
});

test('a lost, unproduced or retyped cache output or input is refused, naming it', () => {
  const lost = decoder();
  lost.output.pop();
  assert.throws(
    () => checkInterfaceKept(decoder(), lost, 'm.onnx'),
    /m\.onnx: the compressed model would lose cache output 'present\.0\.key'; nothing was written/,
  );
  const orphan = decoder();
  orphan.node.pop();
  assert.throws(
    () => checkInterfaceKept(decoder(), orphan, 'm.onnx'),
    /cache output 'present\.0\.key' cannot be kept: no node of the compressed graph produces it/,
  );
  const retyped = decoder();
  retyped.output[0] = vi('logits', DT.FLOAT16, ['b', 's', 8]);
  assert.throws(() => checkInterfaceKept(decoder(), retyped, 'm.onnx'), /would change graph output 'logits' from float32 to float16/);
  const noInput = decoder();
  noInput.input.pop();
  assert.throws(() => checkInterfaceKept(decoder(), noInput, 'm.onnx'), /would lose graph input 'past_key_values\.0\.key'/);
});
