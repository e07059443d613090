/**
 * Streaming writes with ONNX external data: the threshold policy (with a lowered threshold; a real
 * > 2 GiB output would be too slow), copying from the input's own external data, refusals that protect
 * the input, and cancel/failure leaving neither file behind. Outputs are run in onnxruntime-node.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModelProto } from '../../../../engine/export/exportModel';
import { DEFAULT_EXTERNAL_THRESHOLD, externalDataPath, writeModelStreaming } from '../../../../engine/export/writeStreaming';
import { loadModel } from '../../../../engine/onnx/model';
import { decodeModel, encodeModel, type TensorProto } from '../../../../engine/onnx/onnxProto';
import { DT, makeFloatTensor, makeTensor } from '../../../../engine/onnx/tensor';
import { assertClose, model, reference, runFile, W1, W2, writeExternalInput } from './streamingFixtures';

const dir = mkdtempSync(join(tmpdir(), 'lowbit-stream-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let k = 0;
const fresh = (name: string) => {
  const d = join(dir, `${k++}`);
  mkdirSync(d);
  return join(d, name);
};

const ext = (t: TensorProto) => Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
const leftovers = (d: string) => readdirSync(d).filter((f) => f.endsWith('.tmp') || f.endsWith('.old'));

describe('writeModelStreaming: external data policy', () => {
  test('auto below the threshold: one protobuf, byte-identical to encodeModel, no .data file', async () => {
    const out = fresh('m.onnx');
    const p = model();
    const r = await writeModelStreaming(p, out);
    assert.equal(r.dataPath, undefined);
    assert.equal(existsSync(externalDataPath(out)), false);
    assert.deepEqual(new Uint8Array(readFileSync(out)), encodeModel(p));
    assert.equal(r.bytes, statSync(out).size);
    assert.ok(DEFAULT_EXTERNAL_THRESHOLD < 2 ** 31 && DEFAULT_EXTERNAL_THRESHOLD > 2 ** 30);
    assertClose(await runFile(out), reference());
  });

  test('auto above a lowered threshold: tensors ≥ 1 KiB go to <output>.data at aligned offsets; onnxruntime runs it', async () => {
    const out = fresh('m.onnx');
    const r = await writeModelStreaming(model(), out, { thresholdBytes: 4096 });
    assert.equal(r.dataPath, externalDataPath(out));
    assert.equal(r.externalTensors, 2);
    assert.equal(statSync(r.dataPath!).size, r.dataBytes);
    assert.ok(statSync(out).size < 1024, `skeleton is ${statSync(out).size} bytes`);
    const g = decodeModel(readFileSync(out), out).graph!;
    const [w1, w2, b] = g.initializer;
    assert.deepEqual([w1.dataLocation, w2.dataLocation, b.dataLocation, b.rawData?.length], [1, 1, undefined, 64]);
    assert.deepEqual(ext(w1), { location: 'm.onnx.data', offset: '0', length: '8192' });
    assert.equal(Number(ext(w2).offset) % 64, 0);
    assert.equal(w1.rawData, undefined);
    const data = readFileSync(r.dataPath!);
    assert.deepEqual(
      new Float32Array(data.buffer.slice(data.byteOffset + Number(ext(w2).offset), data.byteOffset + Number(ext(w2).offset) + 2048)),
      W2,
    );
    assertClose(await runFile(out), reference());
    // Our loader reads it back too.
    assert.deepEqual((await loadModel(out)).getWeight('W2').data.length, 512);
  });

  test("'always', 'never' and minTensorBytes", async () => {
    const a = fresh('a.onnx');
    assert.equal((await writeModelStreaming(model(), a, { externalData: 'always', minTensorBytes: 4096 })).externalTensors, 1);
    assert.equal(
      decodeModel(readFileSync(a), a)
        .graph!.initializer.filter((t) => t.dataLocation === 1)
        .map((t) => t.name)
        .join(),
      'W1',
    );
    assertClose(await runFile(a), reference());
    const n = fresh('n.onnx');
    const r = await writeModelStreaming(model(), n, { externalData: 'never', thresholdBytes: 1 });
    assert.equal(r.dataPath, undefined);
    assert.equal(existsSync(externalDataPath(n)), false);
  });

  test('an input with external data: its tensors are copied from its file into the output .data; the input is untouched', async () => {
    const input = fresh('in.onnx');
    const m = await writeExternalInput(input);
    const before = [readFileSync(input), readFileSync(join(input, '..', 'in.onnx.data'))];
    const newW1 = W1.map((v) => Math.round(v * 8) / 8);
    const r = exportModelProto(
      m,
      [{ layer: 'W1', dequant: m.getWeight('W1').data.map((_, i) => newW1[(i % 64) * 32 + Math.floor(i / 64)]) }],
      { format: 'fake' },
    );
    const out = join(input, '..', 'out', 'q.onnx');
    const w = await writeModelStreaming(r.proto, out, { inputPath: input, src: m.src, label: m.path });
    assert.equal(w.dataPath, externalDataPath(out), 'auto goes external when the proto still refers to external data');
    assertClose(await runFile(out), reference(newW1));
    const g = decodeModel(readFileSync(out), out).graph!;
    assert.ok(g.initializer.every((t) => t.dataLocation !== 1 || ext(t).location === 'q.onnx.data'));
    assert.deepEqual([readFileSync(input), readFileSync(join(input, '..', 'in.onnx.data'))], before);
    // 'never' inlines the source's external data instead.
    const inl = join(input, '..', 'inline.onnx');
    await writeModelStreaming(r.proto, inl, { inputPath: input, src: m.src, externalData: 'never' });
    assert.equal(existsSync(externalDataPath(inl)), false);
    assert.ok(decodeModel(readFileSync(inl), inl).graph!.initializer.every((t) => t.dataLocation !== 1));
    assertClose(await runFile(inl), reference(newW1));
  });
});

describe('writeModelStreaming: protecting the input, cancel and failure', () => {
  test('refuses an output that is the input, or whose .data is (or hard-links to) the input or its external data', async () => {
    const input = fresh('in.onnx');
    const d = join(input, '..');
    // The input keeps its weights in 'q.onnx.data': writing q.onnx with external data would replace it.
    const m = await writeExternalInput(input, 'q.onnx.data');
    const before = readFileSync(join(d, 'q.onnx.data'));
    const p = exportModelProto(m, [], { format: 'fake' }).proto;
    const opts = { inputPath: input, src: m.src };
    await assert.rejects(writeModelStreaming(p, input, opts), /refusing to write .*in\.onnx: it is the input model/);
    await assert.rejects(
      writeModelStreaming(p, join(d, 'q.onnx'), opts),
      /refusing to write .*q\.onnx\.data \(external data of .*q\.onnx\)/,
    );
    await assert.rejects(
      writeModelStreaming(p, join(d, 'q.onnx.data'), opts),
      /refusing to write .*q\.onnx\.data: it is the input model or its external data/,
    );
    linkSync(input, join(d, 'hard.onnx.data'));
    await assert.rejects(
      writeModelStreaming(model(), join(d, 'hard.onnx'), { inputPath: input, externalData: 'always' }),
      /refusing to write .*hard\.onnx\.data/,
    );
    assert.deepEqual(readFileSync(join(d, 'q.onnx.data')), before);
    assert.deepEqual(readdirSync(d).sort(), ['hard.onnx.data', 'in.onnx', 'q.onnx.data']);
  });

  test('cancel midway leaves neither the output nor its .data file, and keeps a previous output intact', async () => {
    const out = fresh('m.onnx');
    const d = join(out, '..');
    await writeModelStreaming(model(), out, { externalData: 'always' });
    const old = [readFileSync(out), readFileSync(externalDataPath(out))];
    const ac = new AbortController();
    const w1 = makeFloatTensor(
      'W1',
      [64, 32],
      W1.map((v) => -v),
    );
    await assert.rejects(
      writeModelStreaming(model(w1), out, { externalData: 'always', signal: ac.signal, onTensor: () => ac.abort() }),
      (e: Error) => e.name === 'AbortError',
    );
    assert.deepEqual([readFileSync(out), readFileSync(externalDataPath(out))], old);
    assert.deepEqual(leftovers(d), []);
    const out2 = join(d, 'new.onnx');
    const ac2 = new AbortController();
    await assert.rejects(writeModelStreaming(model(), out2, { externalData: 'always', signal: ac2.signal, onTensor: () => ac2.abort() }));
    assert.deepEqual(readdirSync(d).sort(), ['m.onnx', 'm.onnx.data']);
  });

  test('a failure at the last rename removes the new .data and restores the old one', async () => {
    const out = fresh('adir');
    const d = join(out, '..');
    mkdirSync(join(out, 'child'), { recursive: true }); // renaming onto a non-empty folder fails
    writeFileSync(externalDataPath(out), 'old data');
    await assert.rejects(
      writeModelStreaming(model(), out, { externalData: 'always' }),
      /cannot write .*adir \(with external data adir\.data\)/,
    );
    assert.equal(readFileSync(externalDataPath(out), 'utf8'), 'old data');
    assert.ok(existsSync(join(out, 'child')));
    assert.deepEqual(leftovers(d), []);
  });
});

describe('encodeModel: the 2 GiB protobuf limit', () => {
  test('asking for more than 2 GiB in one protobuf is a clear error naming the model, not a crash', async () => {
    // 2100 initializers sharing one 1 MiB buffer: > 2 GiB encoded, ~1 MiB in memory.
    const mib = new Uint8Array(2 ** 20);
    const p = model();
    p.graph!.initializer = Array.from({ length: 2100 }, (_, i) => makeTensor(`T${i}`, DT.UINT8, [2 ** 20], mib));
    assert.throws(
      () => encodeModel(p, '/models/big.onnx'),
      /\/models\/big\.onnx: serialized size \d+ bytes exceeds protobuf's 2 GiB limit; it must be written with external data/,
    );
    assert.throws(() => encodeModel(p), /model 'g': serialized size/);
    const out = fresh('big.onnx');
    await assert.rejects(
      writeModelStreaming(p, out, { externalData: 'never', label: 'big' }),
      /cannot write .*big\.onnx: big: serialized size/,
    );
    assert.deepEqual(readdirSync(join(out, '..')), []);
  });
});

describe('writeModelStreaming: single-file writes (what every job output goes through)', () => {
  const input = join(dir, 'in-single.onnx');
  writeFileSync(input, 'original');
  const proto = model();

  test('writes into a new folder and replaces an existing output', async () => {
    const out = join(dir, 'single', 'sub', 'm.onnx');
    await writeModelStreaming(proto, out, { inputPath: input, externalData: 'never' });
    assert.deepEqual(readFileSync(out), Buffer.from(encodeModel(proto)));
    const smaller = model(makeFloatTensor('W1', [64, 32], new Float32Array(64 * 32)));
    await writeModelStreaming(smaller, out, { inputPath: input, externalData: 'never' });
    assert.deepEqual(readFileSync(out), Buffer.from(encodeModel(smaller)));
    assert.deepEqual(readdirSync(join(dir, 'single', 'sub')), ['m.onnx']);
  });

  test('refuses the input itself, also through a symlink or another spelling', async () => {
    const link = join(dir, 'link-single.onnx');
    symlinkSync(input, link);
    for (const out of [input, link, join(dir, '.', 'x', '..', 'in-single.onnx')])
      await assert.rejects(
        writeModelStreaming(proto, out, { inputPath: input, externalData: 'never' }),
        /refusing to write .*it is the input model/,
      );
    assert.equal(readFileSync(input, 'utf8'), 'original');
  });

  test('a failed write leaves no temp file and the old output intact', async () => {
    const target = join(dir, 'adir');
    mkdirSync(join(target, 'child'), { recursive: true });
    // rename over a non-empty directory fails after the temp file was written.
    await assert.rejects(writeModelStreaming(proto, target, { inputPath: input, externalData: 'never' }), /cannot write/);
    assert.deepEqual(leftovers(dir), []);
    assert.ok(existsSync(join(target, 'child')));
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'ro');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      await assert.rejects(writeModelStreaming(proto, join(ro, 'm.onnx'), { externalData: 'never' }), /cannot write/);
      assert.deepEqual(readdirSync(ro), []);
      chmodSync(ro, 0o700);
    }
    assert.equal(readFileSync(input, 'utf8'), 'original');
  });
});
