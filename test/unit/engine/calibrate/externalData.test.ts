/**
 * Calibration and fake-quant sessions on a model with external data load the weights in place: the
 * bytes handed to onnxruntime keep references to the source's data file (resolved from the model's
 * folder through `openSession`'s `externalDataDir`), and give exactly what the inline model gives.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { calibrate, type CalibratedLayer } from '../../../../engine/calibrate/calibrate';
import { openSession } from '../../../../engine/evaluate/ortSession';
import { fakeQuantBytes } from '../../../../engine/exportStep';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import { decodeModel, encodeModel } from '../../../../engine/onnx/onnxProto';
import { externalInfo } from '../../../../engine/onnx/tensor';
import { model, W2, writeExternalInput } from '../export/streamingFixtures';
import { randn } from '../onnx/tinyModels';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-caldata-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** The fixture twice: weights inline (one file) and in `in.onnx.data` (its own folder). */
async function both(): Promise<{ inline: OnnxModel; external: OnnxModel }> {
  const inlinePath = join(dir, 'inline.onnx');
  writeFileSync(inlinePath, encodeModel(model()));
  mkdirSync(join(dir, 'ext'), { recursive: true });
  return { inline: await loadModel(inlinePath), external: await writeExternalInput(join(dir, 'ext', 'in.onnx')) };
}

const layers: CalibratedLayer[] = [
  { name: 'W1', input: 'X', cols: 64 },
  { name: 'W2', input: 'H', cols: 32 },
];
const batches = [0, 1, 2].map((s) => ({ X: new ort.Tensor('float32', randn(3 * 64, 20 + s), [3, 64]) }));

describe('calibration on a model with external data', () => {
  test('the calibration bytes keep the weights external (a skeleton) and reference the data file by its relative location', async () => {
    const { inline, external } = await both();
    assert.equal(inline.hasExternalData, false);
    assert.equal(inline.externalDataDir, undefined);
    assert.equal(external.hasExternalData, true);
    assert.equal(external.externalDataDir, external.src.dir);
    const bytes = external.withExtraOutputs(['H']);
    assert.ok(bytes.length < 1024, `skeleton is ${bytes.length} bytes (W1 alone is 8192)`);
    const g = decodeModel(bytes, 'calibration').graph!;
    const ext = g.initializer.filter((t) => t.dataLocation === 1);
    assert.deepEqual(
      ext.map((t) => [t.name, externalInfo(t).location]),
      [
        ['W1', 'in.onnx.data'],
        ['W2', 'in.onnx.data'],
      ],
    );
    assert.ok(g.output.some((o) => o.name === 'H'));
    // A model without external data: its session bytes are its serialized bytes.
    assert.deepEqual(inline.sessionBytes(), inline.serialize());
  });

  test('Hessians and channel statistics equal those of the inline model exactly', async () => {
    const { inline, external } = await both();
    const a = await calibrate({ model: inline, layers, batches, threads: 1 });
    const b = await calibrate({ model: external, layers, batches, threads: 1 });
    assert.deepEqual([...b.keys()], ['X', 'H']);
    for (const [key, s] of a) {
      const t = b.get(key)!;
      assert.equal(t.stats.tokens, 9);
      assert.deepEqual(t.hessian.matrix(), s.hessian.matrix());
      assert.deepEqual(t.stats.absMax, s.stats.absMax);
      assert.deepEqual(t.stats.absSum, s.stats.absSum);
    }
    assert.ok(
      b
        .get('H')!
        .hessian.matrix()
        .some((v) => v !== 0),
    );
  });

  test('fake-quant bytes keep unchanged weights external, inline the replaced layer, and run like the inline model', async () => {
    const { inline, external } = await both();
    // W2 [out 16, in 32] rounded to 1/4 (stored [in, out]).
    const dequant = Float32Array.from({ length: 16 * 32 }, (_, k) => Math.round(W2[(k % 32) * 16 + Math.floor(k / 32)] * 4) / 4);
    const fq = fakeQuantBytes(external, [{ layer: 'W2', dequant }]);
    const g = decodeModel(fq, 'fq').graph!;
    assert.deepEqual(
      g.initializer.filter((t) => t.dataLocation === 1).map((t) => t.name),
      ['W1'],
    );
    assert.ok(fq.length < 4096, `${fq.length} bytes: W2 (2 KiB) inline, W1 (8 KiB) a reference`);
    const run = async (bytes: Uint8Array, folder?: string) => {
      const s = await openSession(bytes, 1, 'fq', folder);
      try {
        return (await s.run({ X: batches[0].X })).Y.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const want = await run(fakeQuantBytes(inline, [{ layer: 'W2', dequant }]));
    assert.deepEqual(await run(fq, external.externalDataDir), want);
    assert.deepEqual(await run(external.sessionBytes(), external.externalDataDir), await run(inline.serialize()));
  });
});
