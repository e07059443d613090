import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bindInputs, InputBindingError, tokenInputName, type ModelInput } from '../../../recipe/inputBinding';
import { tokenFeeds } from '../../../engine/data/inputFeeds';

const optimum: ModelInput[] = [
  { name: 'input_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] },
  { name: 'attention_mask', dtype: 'int64', dims: ['batch_size', 'past_sequence_length + sequence_length'] },
  { name: 'position_ids', dtype: 'int64', dims: ['batch_size', 'sequence_length'] },
  { name: 'past_key_values.0.key', dtype: 'float16', dims: ['batch_size', 4, 'past_sequence_length', 8] },
  { name: 'past_key_values.0.value', dtype: 'float16', dims: ['batch_size', 4, 'past_sequence_length', 8] },
];
const path = '/m/model.onnx';

describe('input binding rule table', () => {
  test('optimum decoder: tokens, ones mask, positions, empty fp16 past', () => {
    const b = bindInputs({ path, inputs: optimum });
    assert.deepEqual(
      b.map((x) => x.rule),
      ['token_ids', 'attention_mask', 'positions', 'empty_past', 'empty_past'],
    );
    assert.equal(tokenInputName(b), 'input_ids');
    const ids = BigInt64Array.from([5n, 6n, 7n, 8n, 9n, 10n]);
    const f = tokenFeeds(b, ids, 2, 3);
    assert.deepEqual(f.input_ids.dims, [2, 3]);
    assert.deepEqual([...(f.attention_mask.data as BigInt64Array)], [1n, 1n, 1n, 1n, 1n, 1n]);
    assert.deepEqual([...(f.position_ids.data as BigInt64Array)], [0n, 1n, 2n, 0n, 1n, 2n]);
    assert.deepEqual(f['past_key_values.0.key'].dims, [2, 4, 0, 8]);
    assert.equal(f['past_key_values.0.key'].type, 'float16');
  });

  test('GQA inputs, BERT token types, merged-decoder branch flag, int32 ids', () => {
    const inputs: ModelInput[] = [
      { name: 'ids', dtype: 'int32', dims: ['b', 's'] },
      { name: 'seqlens_k', dtype: 'int32', dims: ['b'] },
      { name: 'total_sequence_length', dtype: 'int32', dims: [] },
      { name: 'token_type_ids', dtype: 'int64', dims: ['b', 's'] },
      { name: 'use_cache_branch', dtype: 'bool', dims: [1] },
    ];
    const b = bindInputs({ path, inputs });
    assert.deepEqual(
      b.map((x) => x.rule),
      ['token_ids', 'seqlens_k', 'total_sequence_length', 'zeros', 'use_cache_branch'],
    );
    const f = tokenFeeds(b, BigInt64Array.from([1n, 2n, 3n, 4n]), 1, 4);
    assert.deepEqual([...(f.seqlens_k.data as Int32Array)], [3]);
    assert.deepEqual([...(f.total_sequence_length.data as Int32Array)], [4]);
    assert.deepEqual(f.total_sequence_length.dims, []);
    assert.equal(f.ids.type, 'int32');
    assert.deepEqual([...(f.token_type_ids.data as BigInt64Array)], [0n, 0n, 0n, 0n]);
    assert.deepEqual([...(f.use_cache_branch.data as Uint8Array)], [0]);
  });

  test('an input nothing binds is an error naming it and how to set it; a recipe constant binds it', () => {
    const inputs: ModelInput[] = [...optimum, { name: 'temperature', dtype: 'float32', dims: [1] }];
    assert.throws(
      () => bindInputs({ path, inputs }),
      (e: Error) =>
        e instanceof InputBindingError &&
        /\/m\/model\.onnx: cannot bind model input 'temperature' \(float32 \[1\]\)/.test(e.message) &&
        /inputs: \{ temperature: 0 \}/.test(e.message),
    );
    const b = bindInputs({ path, inputs }, { temperature: 0.7 });
    const f = tokenFeeds(b, BigInt64Array.from([1n, 2n]), 1, 2);
    assert.deepEqual(f.temperature.dims, [1]);
    assert.ok(Math.abs((f.temperature.data as Float32Array)[0] - 0.7) < 1e-7);
  });

  test('overrides must name real inputs; exactly one token input', () => {
    assert.throws(
      () => bindInputs({ path, inputs: optimum }, { attn_mask: 1 }),
      /'attn_mask', which is not an input of the model \(inputs: input_ids, attention_mask/,
    );
    assert.throws(
      () => bindInputs({ path, inputs: optimum }, { position_ids: 'token_ids' }),
      /2 inputs \(input_ids, position_ids\) are bound to the tokens/,
    );
    assert.throws(
      () => bindInputs({ path, inputs: [{ name: 'pixels', dtype: 'float32', dims: [1, 3, 8, 8] }] }),
      /cannot bind model input 'pixels'/,
    );
  });

  test('a cache with two symbolic axes after the batch cannot be emptied by guess', () => {
    const inputs: ModelInput[] = [optimum[0], { name: 'past_key_values.0.key', dtype: 'float32', dims: ['b', 'heads', 'past', 8] }];
    assert.throws(
      () => tokenFeeds(bindInputs({ path, inputs }), BigInt64Array.from([1n]), 1, 1, path),
      /cache input 'past_key_values\.0\.key' has 2 symbolic axes/,
    );
  });
});
