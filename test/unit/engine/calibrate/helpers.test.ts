import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelStats } from '../../../../engine/calibrate/channelStats';
import { seededRandom } from '../../../../engine/calibrate/calibrationData';

describe('calibration helpers', () => {
  test('ChannelStats streams mean|x|, max|x|, min and max per channel', () => {
    const s = new ChannelStats(2);
    s.add(new Float32Array([1, -2, -3, 4]), 2);
    s.add(new Float32Array([0.5, 0]), 1);
    assert.equal(s.tokens, 3);
    assert.deepEqual([...s.absMean()], [Math.fround(4.5 / 3), 2]);
    assert.deepEqual([...s.absMax], [3, 4]);
    assert.deepEqual([...s.min], [-3, -2]);
    assert.deepEqual([...s.max], [1, 4]);
    assert.throws(() => s.add(new Float32Array(3), 2), /3 values for 2×2/);
  });
  test('seeded random is deterministic and in [0, 1)', () => {
    const a = seededRandom(7),
      b = seededRandom(7),
      c = seededRandom(8);
    const xs = Array.from({ length: 1000 }, a);
    assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, b));
    assert.notEqual(xs[0], c());
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05);
  });
});
