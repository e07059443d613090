/** Activation quantizer parameters (symmetric absmax, asymmetric min-max). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { asymmetricActivationQuant, symmetricActivationQuant } from '../../../../engine/transforms';

describe('transforms: activation quantizer parameters', () => {
  test('symmetric: s = absmax / (2^(b−1) − 1), zero point 0, signed', () => {
    assert.deepEqual(symmetricActivationQuant(12.7, 8), { scale: 12.7 / 127, zeroPoint: 0, bits: 8, signed: true });
    assert.equal(symmetricActivationQuant(7, 4).scale, 1);
    assert.throws(() => symmetricActivationQuant(0, 8), /absmax must be finite and > 0/);
    assert.throws(() => symmetricActivationQuant(Number.NaN, 8), /absmax/);
  });

  test('asymmetric: range widened to contain 0, zp = round(−min/s)', () => {
    const q = asymmetricActivationQuant(-1, 3, 8);
    assert.equal(q.scale, 4 / 255);
    assert.equal(q.zeroPoint, Math.round(255 / 4));
    assert.equal(q.signed, undefined);
    const pos = asymmetricActivationQuant(2, 5, 4); // [0, 5]
    assert.equal(pos.zeroPoint, 0);
    assert.equal(pos.scale, 5 / 15);
    assert.throws(() => asymmetricActivationQuant(0, 0, 8), /no usable scale/);
  });
});
