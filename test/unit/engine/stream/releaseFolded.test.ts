/**
 * releaseFoldedWeights (issue 11): a finished block's folded weights leave the running model — after
 * the release nothing keeps their bytes (checked with WeakRefs and a forced full GC) — and reading one
 * rebuilds exactly the bytes the fold wrote, fp32 and fp16. Only weights the fold wrote are released:
 * the input model's own tensors and the layers not named (not quantized) keep their bytes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, test } from 'node:test';
import { writeLlama } from '../../../../bench/llamaModel';
import { loadModel, type OnnxModel } from '../../../../engine/onnx/model';
import type { TensorProto } from '../../../../engine/onnx/onnxProto';
import { FoldReplay, releaseFoldedWeights } from '../../../../engine/stream/releaseFolded';
import { foldInputTransforms, scaleGroups, type InputTransform } from '../../../../engine/transforms';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const dir = mkdtempSync(join(tmpdir(), 'lowbit-release-folded-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A scale per input channel, away from 1 (so every consumer's weight is rewritten). */
const scaleFor = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => 0.5 + ((i * 7 + seed) % 13) / 8);

async function llama(dtype: 'float32' | 'float16'): Promise<OnnxModel> {
  const path = join(dir, `m-${dtype}.onnx`);
  writeLlama(path, { layers: 1, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, vocab: 96, seq: 16, dtype });
  return loadModel(path);
}

/** The tensor a layer reads in `m`, and its bytes held as a plain value (undefined once released). */
function stored(m: OnnxModel, layer: string): { t: TensorProto; held?: Uint8Array } {
  const t = m.layer(layer).ref.stored;
  const d = Object.getOwnPropertyDescriptor(t, 'rawData');
  return { t, held: d && 'value' in d ? (d.value as Uint8Array) : undefined };
}

for (const dtype of ['float32', 'float16'] as const)
  test(`${dtype}: released folded weights are garbage, and reading one rebuilds the fold's bytes`, async () => {
    const input = await llama(dtype);
    // The attention input group (into the norm) and w2's group (into w3, a planned linear of the same block).
    const groups = scaleGroups(input).filter((g) => g.layers.includes('layers.0.wq') || g.layers.includes('layers.0.w2'));
    assert.equal(groups.length, 2);
    const transforms: InputTransform[] = groups.map((g, i) => ({
      layers: g.layers,
      scale: scaleFor(input.layer(g.layers[0]).shape[1], i),
    }));
    const folded = foldInputTransforms(input, transforms).model;
    const quantized = ['layers.0.wq', 'layers.0.wk', 'layers.0.w2', 'layers.0.w3'];
    const copies = new Map<string, Uint8Array>();
    const refs = new Map<string, WeakRef<Uint8Array>>();
    for (const n of [...quantized, 'layers.0.wv']) {
      const { held } = stored(folded, n);
      assert.ok(held, `${n}: the fold wrote its weight inline`);
      copies.set(n, Uint8Array.from(held));
      refs.set(n, new WeakRef(held));
    }
    // wo's weight is the input's own tensor (no transform reads it): nothing to release.
    const wo = stored(folded, 'layers.0.wo').t;
    assert.ok(input.graph.initializer.includes(wo));

    const replay = new FoldReplay(input, transforms, new Set(), 'block 1');
    const bytes = releaseFoldedWeights(folded, input, [...quantized, 'layers.0.wo'], replay);
    const elem = dtype === 'float16' ? 2 : 4;
    assert.equal(
      bytes,
      quantized.reduce((a, n) => a + elem * input.layer(n).params, 0),
    );
    assert.equal(releaseFoldedWeights(folded, input, quantized, replay), 0, 'released once');
    for (let i = 0; i < 3 && quantized.some((n) => refs.get(n)!.deref()); i++) {
      await new Promise((r) => setImmediate(r));
      gc();
    }
    for (const n of quantized) assert.equal(refs.get(n)!.deref(), undefined, `${n}: the released bytes are still reachable`);
    // wv was not named (as a layer left unquantized): it keeps its bytes.
    assert.ok(stored(folded, 'layers.0.wv').held);
    assert.ok(refs.get('layers.0.wv')!.deref());
    // Reading rebuilds the same bytes (w3 took both of its folds: 1/s of w2's group, then its own group's s).
    for (const n of quantized) {
      const { t, held } = stored(folded, n);
      assert.equal(held, undefined, `${n}: released`);
      assert.deepEqual(t.rawData, copies.get(n), `${n}: rebuilt bytes`);
    }
    // The serialized model is unchanged too: the session bytes read the getters.
    assert.ok(folded.sessionBytes().length > 0);
  });

test('a weight the fold does not write cannot be rebuilt: the error names the block and the tensor', async () => {
  const input = await llama('float32');
  const g = scaleGroups(input).find((x) => x.layers.includes('layers.0.wq'))!;
  const replay = new FoldReplay(input, [{ layers: g.layers, scale: scaleFor(64, 0) }], new Set(), 'm.onnx block 3 of 5');
  assert.throws(
    () => replay.bytes('layers.0.wo', 4),
    /m\.onnx block 3 of 5: the folded weight 'layers\.0\.wo' cannot be rebuilt: the block's fold does not write it/,
  );
  const wq = input.layer('layers.0.wq').params * 4;
  assert.equal(replay.bytes('layers.0.wq', wq).length, wq);
  assert.throws(() => replay.bytes('layers.0.wq', wq + 4), /writes \d+ bytes, not \d+/);
});
