import { test } from 'node:test';
import assert from 'node:assert/strict';
import { METHODS, EXPORT_FORMATS } from '../../../protocol/plan';
import { METHOD_INFO, RECIPE_SCHEMA, RULE_FIELDS, FORMAT_BITS, schemaAt, didYouMean } from '../../../recipe/schema';
import type { FieldSchema } from '../../../recipe/schema';

test('the schema lists exactly the protocol methods and formats', () => {
  assert.deepEqual(Object.keys(METHOD_INFO).sort(), [...METHODS].sort());
  const method = RULE_FIELDS.method as Extract<FieldSchema, { kind: 'enum' }>;
  assert.deepEqual([...method.values], [...METHODS]);
  const format = RECIPE_SCHEMA.format as Extract<FieldSchema, { kind: 'enum' }>;
  assert.deepEqual([...format.values], [...EXPORT_FORMATS]);
  assert.deepEqual(Object.keys(FORMAT_BITS).sort(), [...EXPORT_FORMATS].sort());
  assert.deepEqual(FORMAT_BITS.matmulnbits, [2, 4, 8]);
});

test('every method setting has docs and a default of its own type', () => {
  for (const [m, info] of Object.entries(METHOD_INFO)) {
    assert.match(info.doc, /\*\*/, `${m} doc`);
    for (const [k, f] of Object.entries(info.settings)) {
      assert.ok(f.doc.length > 10, `${m}.${k} doc`);
      assert.ok('default' in f && f.default !== undefined, `${m}.${k} default`);
    }
  }
});

test('schemaAt walks objects, rules and method settings', () => {
  assert.equal(schemaAt(['calibration', 'samples'])?.kind, 'number');
  assert.equal(schemaAt(['layers', '3', 'bits'])?.kind, 'number');
  assert.equal(schemaAt(['methods', 'gptq', 'damp'])?.kind, 'number');
  assert.equal(schemaAt(['methods', 'rtn', 'damp']), undefined);
  assert.equal(schemaAt(['nope']), undefined);
});

test('didYouMean finds near misses only', () => {
  assert.equal(didYouMean('calibraton', Object.keys(RECIPE_SCHEMA)), 'calibration');
  assert.equal(didYouMean('grup_size', Object.keys(RULE_FIELDS)), 'group_size');
  assert.equal(didYouMean('zzzzzz', Object.keys(RECIPE_SCHEMA)), undefined);
});
