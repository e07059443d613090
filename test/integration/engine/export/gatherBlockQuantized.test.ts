import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { exportModel } from '../../../../engine/export/exportModel';
import { parseModel } from '../../../../engine/onnx/model';
import { encodeModel } from '../../../../engine/onnx/onnxProto';
import { halfToFloat, floatToHalf } from '../../../../engine/onnx/tensor';
import { DT, GraphBuilder } from '../../../fixtures/llm/graphBuilder';
import { lcg } from '../../../fixtures/lcg';

const V = 40,
  D = 64;
const IDS = [3, 0, 39, 17, 3];

/** ids → Gather(table) → out, with the table as an fp32 or fp16 initializer. */
function gatherModel(dtype: number): Uint8Array {
  const b = new GraphBuilder(dtype);
  const ids = b.input('ids', DT.INT64, [1, IDS.length]);
  b.weight('embed_tokens.weight', [V, D], new Float32Array(V * D).fill(0.25));
  b.opTo('Gather', '/model/embed_tokens/Gather', ['embed_tokens.weight', ids], ['out']);
  b.output('out', dtype, [1, IDS.length, D]);
  return encodeModel(b.model(17));
}

/** Random codes, scales and zero points; dequant (q − z)·s in float64, rounded to float32 as the kernels give it. */
function quant(bits: number, group: number, symmetric: boolean, seed: number, halfScales: boolean) {
  const r = lcg(seed),
    G = D / group,
    max = 2 ** bits - 1;
  const codes = Uint8Array.from({ length: V * D }, () => Math.floor(r() * (max + 1)));
  const scales = Float32Array.from({ length: V * G }, () => {
    const s = 0.001 + 0.05 * r();
    return halfScales ? halfToFloat(floatToHalf(s)) : s;
  });
  const zeros = Uint8Array.from({ length: V * G }, () => (symmetric ? 2 ** (bits - 1) : Math.floor(r() * (max + 1))));
  const exact = new Float64Array(V * D);
  for (let v = 0; v < V; v++)
    for (let c = 0; c < D; c++) {
      const g = v * G + Math.floor(c / group);
      exact[v * D + c] = (codes[v * D + c] - zeros[g]) * scales[g];
    }
  return {
    q: { bits, groupSize: group, rows: V, cols: D, codes, scales, ...(symmetric ? {} : { zeros }) },
    dequant: Float32Array.from(exact),
    exact,
  };
}

async function run(bytes: Uint8Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const out = (await s.run({ ids: new ort.Tensor('int64', BigInt64Array.from(IDS.map(BigInt)), [1, IDS.length]) })).out;
  await s.release();
  return out.type === 'float16' ? Float32Array.from(out.data as Uint16Array, halfToFloat) : (out.data as Float32Array);
}

for (const format of ['matmulnbits', 'qdq'] as const)
  for (const [bits, group, symmetric] of [
    [4, 32, false],
    [4, 16, true],
    [8, 64, false],
    [8, 32, true],
  ] as const)
    for (const dtype of [DT.FLOAT, DT.FLOAT16])
      test(`${format} ${bits}-bit g${group}${symmetric ? ' symmetric' : ''} ${dtype === DT.FLOAT ? 'fp32' : 'fp16'} table: onnxruntime's lookups equal the float64 dequantized rows`, async () => {
        const m = parseModel(gatherModel(dtype), 'gather.onnx');
        const l = m.layer('embed_tokens.weight');
        assert.equal(l.embedding, true);
        const fp16 = dtype === DT.FLOAT16;
        const { q, dequant, exact } = quant(bits, group, symmetric, bits * 100 + group + (symmetric ? 1 : 0), fp16);
        const r = exportModel(m, [{ layer: 'embed_tokens.weight', dequant, q }], { format });
        assert.equal(r.layers[0].written, format, r.layers[0].note);
        const out = parseModel(r.bytes, 'out.onnx');
        if (format === 'matmulnbits') {
          const n = out.graph.node.find((x) => x.opType === 'GatherBlockQuantized')!;
          assert.equal(n.domain, 'com.microsoft');
          assert.equal(n.input.length, symmetric ? 3 : 4, 'zero points are omitted when all are 2^(bits−1)');
        } else assert.ok(out.graph.node.some((x) => x.opType === 'DequantizeLinear'));
        const got = await run(r.bytes);
        // fp16 outputs round each value to 11 significant bits.
        const tol = (v: number) => (fp16 ? 1e-3 * Math.abs(v) + 1e-6 : 1e-6 * Math.abs(v) + 1e-9);
        IDS.forEach((id, t) => {
          for (let c = 0; c < D; c++) {
            const want = exact[id * D + c],
              have = got[t * D + c];
            assert.ok(Math.abs(have - want) <= tol(want), `row ${id} col ${c}: ${have} vs ${want}`);
          }
        });
      });

test('a group size GatherBlockQuantized cannot store (not a power of 2, or 2 bits) falls back to fake-quant with a note naming it', async () => {
  const m = parseModel(gatherModel(DT.FLOAT), 'gather.onnx');
  const { q, dequant } = quant(4, 32, false, 7, false);
  const two = quant(2, 32, false, 8, false);
  const bad = exportModel(m, [{ layer: 'embed_tokens.weight', dequant: two.dequant, q: two.q }], { format: 'matmulnbits' });
  assert.equal(bad.layers[0].written, 'fake');
  assert.match(bad.layers[0].note!, /GatherBlockQuantized stores 4 or 8 bits, not 2/);
  const ok = await run(exportModel(m, [{ layer: 'embed_tokens.weight', dequant, q }], { format: 'fake' }).bytes);
  IDS.forEach((id, t) => {
    for (let c = 0; c < D; c++) assert.equal(ok[t * D + c], dequant[id * D + c]);
  });
});
