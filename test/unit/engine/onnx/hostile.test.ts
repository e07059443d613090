import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { openSession } from '../../../../engine/evaluate/ortSession';
import { loadModel } from '../../../../engine/onnx/model';
import { ModelCache, inspectModel } from '../../../../engine/onnx/inspect';
import { decodeModel, encodeModel } from '../../../../engine/onnx/onnxProto';
import { OnnxFormatError, Writer } from '../../../../engine/onnx/protobuf';
import { DT, makeFloatTensor, makeTensor } from '../../../../engine/onnx/tensor';
import { encode, externalFloatTensor, matmulModel, randn, skipNoStories, storiesModel } from './tinyModels';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-onnx-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let k = 0;
function write(bytes: Uint8Array, name = `m${k++}.onnx`): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof OnnxFormatError, `${e.name}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

/** A model whose weight W lives in an external file at `location`. */
function externalModel(location: string, K = 4, N = 3): Uint8Array {
  return encode(matmulModel(K, N, externalFloatTensor('W', [K, N], location)));
}

describe('hostile and unusual ONNX input', () => {
  test('truncated real model → clear error naming the file', { skip: skipNoStories }, async () => {
    const full = readFileSync(storiesModel);
    for (const cut of [10, 1000, full.length >> 1, full.length - 3]) {
      const p = write(full.subarray(0, cut));
      await rejects(loadModel(p), new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt ONNX protobuf`));
    }
  });

  test('random bytes, empty file, absurd lengths, overlong varints', async () => {
    await rejects(loadModel(write(new Uint8Array(randn(4096, 7).buffer))), /corrupt|ONNX/);
    await rejects(loadModel(write(new Uint8Array(0))), /empty file/);
    await rejects(loadModel(write(Uint8Array.from([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]))), /length \d+ exceeds/);
    await rejects(loadModel(write(Uint8Array.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))), /varint/);
    await rejects(loadModel(write(Uint8Array.from([0x0f]))), /wire type/);
    await rejects(loadModel(join(dir, 'missing.onnx')), /cannot read model/);
  });

  test('deep nesting is refused, not a stack overflow', () => {
    // GraphProto → NodeProto → AttributeProto(g) → GraphProto … 200 levels.
    let g = new Writer();
    for (let i = 0; i < 200; i++) {
      const attr = new Writer();
      attr.message(6, g);
      const n = new Writer();
      n.message(5, attr);
      g = new Writer();
      g.message(1, n);
    }
    const m = new Writer();
    m.int(1, 8);
    m.message(7, g);
    assert.throws(() => decodeModel(m.finish(), 'deep.onnx'), /deep\.onnx: .*nesting deeper than 64/);
  });

  test('unknown fields survive a round-trip byte for byte', () => {
    const proto = matmulModel();
    const odd = new Writer();
    odd.string(99, 'future field');
    odd.int(100, 12345);
    const oddBytes = odd.finish();
    proto.unknown.push(oddBytes);
    proto.graph!.node[0].unknown.push(oddBytes);
    proto.graph!.initializer[0].unknown.push(oddBytes);
    const bytes = encodeModel(proto);
    const back = decodeModel(bytes, 'u.onnx');
    assert.deepEqual(Buffer.concat(back.unknown), Buffer.from(oddBytes));
    assert.deepEqual(Buffer.concat(back.graph!.node[0].unknown), Buffer.from(oddBytes));
    assert.deepEqual(Buffer.concat(back.graph!.initializer[0].unknown), Buffer.from(oddBytes));
    assert.deepEqual(encodeModel(back), bytes);
  });

  test('raw_data size that does not match dims, and a non-float weight', async () => {
    const bad = makeTensor('W', DT.FLOAT, [4, 3], new Uint8Array(40));
    const m = await loadModel(write(encode(matmulModel(4, 3, bad))));
    assert.throws(() => m.getWeight('W'), /'W' has 40 bytes of raw_data, expected 48/);
    const ints = makeTensor('W', DT.INT32, [4, 3], new Uint8Array(48));
    const m2 = await loadModel(write(encode(matmulModel(4, 3, ints))));
    assert.equal(m2.summary().layers.length, 0, 'an int32 constant is not a float weight');
    const neg = makeFloatTensor('W', [4, 3], randn(12));
    neg.dims = [4, -3];
    await assert.rejects(async () => (await loadModel(write(encode(matmulModel(4, 3, neg))))).getWeight('W'), /invalid dimension -3/);
  });

  test('external data inside the folder loads; escaping paths are refused', async () => {
    const w = randn(12, 5);
    writeFileSync(join(dir, 'w.bin'), new Uint8Array(w.buffer));
    const ok = await loadModel(write(externalModel('w.bin')));
    const got = ok.getWeight('W');
    assert.equal(got.data[1 * 4 + 2], w[2 * 3 + 1]);
    const x = new ort.Tensor('float32', randn(4, 9), [1, 4]);
    const fromFile = (await (await ort.InferenceSession.create(join(dir, `m${k - 1}.onnx`))).run({ X: x })).Y.data;
    // serialize() carries the external data inline.
    const fromBytes = (await (await ort.InferenceSession.create(ok.serialize())).run({ X: x })).Y.data;
    assert.deepEqual(fromBytes, fromFile);
    assert.ok(decodeModel(ok.serialize(), 's').graph!.initializer.every((t) => t.dataLocation !== 1));
    // Calibration bytes keep the reference; onnxruntime resolves it from the model's folder.
    const cal = ok.withExtraOutputs(['X']);
    assert.deepEqual(
      decodeModel(cal, 'c').graph!.initializer.map((t) => t.dataLocation),
      [1],
    );
    const withOut = await openSession(cal, 1, 'cal', ok.externalDataDir);
    assert.deepEqual(withOut.outputNames, ['Y', 'X']);
    assert.deepEqual((await withOut.run({ X: x })).Y.data, fromFile);
    await withOut.release();

    const outside = mkdtempSync(join(tmpdir(), 'lowbit-outside-'));
    try {
      writeFileSync(join(outside, 'secret.bin'), new Uint8Array(48));
      symlinkSync(join(outside, 'secret.bin'), join(dir, 'link.bin'));
      mkdirSync(join(dir, 'sub'), { recursive: true });
      for (const [loc, re] of [
        [join(outside, 'secret.bin'), /absolute paths are not allowed/],
        ['../secret.bin', /'\.\.' is not allowed/],
        ['sub/../../secret.bin', /'\.\.' is not allowed/],
        ['link.bin', /outside the model folder/],
        ['nope.bin', /file not found/],
      ] as const) {
        const m = await loadModel(write(externalModel(loc)));
        const refused = (e: Error) => e instanceof OnnxFormatError && re.test(e.message) && e.message.includes("tensor 'W'");
        assert.throws(() => m.getWeight('W'), refused);
        // Bytes that keep the reference are refused the same way before onnxruntime sees them.
        assert.throws(() => m.withExtraOutputs(['X']), refused);
        assert.throws(() => m.sessionBytes(), refused);
      }
      writeFileSync(join(dir, 'short.bin'), new Uint8Array(20));
      const short = await loadModel(write(externalModel('short.bin')));
      assert.throws(() => short.getWeight('W'), /past the end of short\.bin/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('inspectModel and ModelCache reload when the file changes', async () => {
    const p = write(encode(matmulModel(4, 3)), 'cached.onnx');
    const cache = new ModelCache();
    const a = await cache.get(p);
    assert.deepEqual(a.layers[0].shape, [3, 4]);
    await cache.get(p);
    assert.equal(cache.loads, 1);
    writeFileSync(p, encode(matmulModel(8, 5)));
    utimesSync(p, new Date(), new Date(Date.now() + 5000));
    const b = await cache.get(p);
    assert.equal(cache.loads, 2);
    assert.deepEqual(b.layers[0].shape, [5, 8]);
    assert.deepEqual((await inspectModel(p)).layers[0].dims, [8, 5]);
  });

  test('float_data and fp16 int32_data weights load and round-trip through onnxruntime', async () => {
    const vals = randn(12, 8);
    const fd = makeTensor('W', DT.FLOAT, [4, 3], new Uint8Array(0));
    delete fd.rawData;
    fd.floatData = Array.from(vals);
    const m = await loadModel(write(encode(matmulModel(4, 3, fd))));
    assert.equal(m.getWeight('W').data[1 * 4 + 2], vals[2 * 3 + 1]);
    const x = new ort.Tensor('float32', randn(8, 9), [2, 4]);
    const y = (await (await ort.InferenceSession.create(m.serialize())).run({ X: x })).Y.data as Float32Array;
    assert.ok(Math.abs(y[0] - (x.data as Float32Array).slice(0, 4).reduce((a, v, i) => a + v * vals[i * 3], 0)) < 1e-6);
    const h = makeTensor('W', DT.FLOAT16, [4, 3], new Uint8Array(0));
    delete h.rawData;
    h.int32Data = [0x3c00, 0xc000, 0x3800, 0, 0, 0, 0, 0, 0, 0, 0, 0x7bff];
    const mh = await loadModel(write(encode(matmulModel(4, 3, h))));
    const wh = mh.getWeight('W');
    assert.deepEqual([wh.data[0], wh.data[4], wh.data[8], wh.data[11]], [1, -2, 0.5, 65504]);
  });
});
