import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModel } from '../../../engine/export/exportModel';
import type { LayerResult } from '../../../engine/export/types';
import { loadModel, parseModel, type OnnxModel } from '../../../engine/onnx/model';
import { encodeGraph } from '../../../engine/onnx/onnxProto';
import { binaryLowRankKernels } from '../../../engine/quantize/binaryLowRankKernels';
import type { KernelOutput } from '../../../engine/quantize/kernels';
import type { Method } from '../../../protocol/plan';
import { packedBitsPerWeight } from '../../../engine/exportStep';
import { randn, skipNoStories, storiesModel } from '../../unit/engine/onnx/tinyModels';
import { relErr, rtn, runModel, tokens } from './exportFixtures';

/** The 35 transformer MatMuls (the LM head `output` stays float). */
const BODY = Array.from({ length: 5 }, (_, i) => ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'].map((w) => `layers.${i}.${w}`)).flat();

/** A positive definite stand-in Hessian 2XXᵀ/N (the export does not care where H came from). */
function hessian(cols: number, seed: number): Float64Array {
  const n = 2 * cols;
  const x = randn(cols * n, seed);
  const H = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += x[i * n + k] * x[j * n + k];
      H[i * cols + j] = (2 * s) / n;
    }
  return H;
}

async function binarize(m: OnnxModel, method: Method, settings: Record<string, unknown> = {}): Promise<LayerResult[]> {
  const out: LayerResult[] = [];
  for (const [i, name] of BODY.entries()) {
    const w = m.getWeight(name);
    const H = hessian(w.cols, i + 1);
    const kernel = binaryLowRankKernels(() => H)[method]!;
    const layer = { name, method, bits: method === 'dualbin' ? 2 : 1, groupSize: 128, symmetric: false, settings, rules: [0] };
    const r: KernelOutput = await kernel({ layer, weight: w, threads: 1 });
    out.push({ layer: name, dequant: r.dequant, binary: r.binary });
  }
  return out;
}

/** Serialized bytes of the fake export's float weight of each layer (what packed replaces). */
function fakeWeightBytes(fake: Uint8Array, names: string[]): number {
  const g = parseModel(fake, 'fake.onnx').graph;
  let total = 0;
  for (const name of names) {
    const node = g.node.find((n) => n.opType === 'MatMul' && n.input.some((i) => i.startsWith(name)))!;
    total += encodeGraph({
      ...g,
      node: [],
      input: [],
      output: [],
      valueInfo: [],
      initializer: [g.initializer.find((t) => t.name === node.input[1])!],
    }).length;
  }
  return total;
}

describe('packed export of stories260K', { skip: skipNoStories }, () => {
  const feeds = { input_ids: tokens(2, 9) };

  // Defaults, and the settings that change what is stored (PB-LLM's 4-bit high codes, a GPTQ start).
  const variants: [Method & ('billm' | 'pbllm' | 'dualbin'), Record<string, unknown>][] = [
    ['billm', {}],
    ['pbllm', {}],
    ['dualbin', {}],
    ['pbllm', { high_bits: 4 }],
    ['dualbin', { init: 'gptq' }],
  ];
  for (const [method, settings] of variants) {
    test(`${method}${Object.keys(settings).length ? ` ${JSON.stringify(settings)}` : ''}: the packed model computes what the fake-quant model does, from a file sized by its stored bits`, async () => {
      const m = await loadModel(storiesModel);
      const results = await binarize(m, method, settings);
      assert.ok(results.every((r) => r.binary?.kind === method));
      const packed = exportModel(m, results, { format: 'packed' });
      const fake = exportModel(m, results, { format: 'fake' });
      assert.ok(
        packed.layers.every((l) => l.written === 'packed' && !l.note && l.storedBytes! > 0),
        JSON.stringify(packed.layers.find((l) => l.written !== 'packed' || l.note)),
      );
      // The decode subgraph uses standard ops only and no float weight is left for these layers.
      const g = parseModel(packed.bytes, 'packed.onnx').graph;
      assert.ok(g.node.every((n) => !n.domain || n.domain === 'ai.onnx'));
      assert.ok(g.node.some((n) => n.opType === 'BitShift'));
      // Same graph outputs (the decoded weights equal the dequantized ones bit for bit).
      const a = await runModel(packed.bytes, feeds);
      const b = await runModel(fake.bytes, feeds);
      const ref = await runModel(storiesModel, feeds);
      assert.ok(relErr(a, b) < 1e-6, `packed vs fake: ${relErr(a, b)}`);
      assert.ok(relErr(b, ref) > 1e-3, 'binarization must change the logits');
      // File size: the difference between the two files is exactly float weights vs stored forms
      // (up to a few bytes of protobuf framing per layer).
      const stored = packed.layers.reduce((s, l) => s + l.storedBytes!, 0);
      const floats = fakeWeightBytes(fake.bytes, BODY);
      const delta = fake.bytes.length - packed.bytes.length;
      assert.ok(Math.abs(delta - (floats - stored)) <= 4 * BODY.length, `file delta ${delta} vs ${floats - stored}`);
      // Reported bits per weight = stored bytes × 8 / params; far below 32 and above the 1–2 code bits.
      const params = BODY.reduce((s, n) => s + m.getWeight(n).rows * m.getWeight(n).cols, 0);
      const bits = (stored * 8) / params;
      const perLayer = packed.layers.map((l, i) =>
        packedBitsPerWeight(l.storedBytes!, { report: { shape: [m.getWeight(BODY[i]).rows, m.getWeight(BODY[i]).cols] } as never }),
      );
      assert.ok(
        Math.abs(perLayer.reduce((s, b, i) => s + b * m.getWeight(BODY[i]).rows * m.getWeight(BODY[i]).cols, 0) / params - bits) < 1e-9,
      );
      assert.ok(bits > (method === 'dualbin' ? 2 : 1) && bits < 8, `${method}: ${bits} bits/weight`);
      assert.ok(packed.bytes.length < 0.5 * fake.bytes.length, `${packed.bytes.length} vs ${fake.bytes.length}`);
      console.log(
        `# ${method}: fake ${fake.bytes.length} B, packed ${packed.bytes.length} B, 35 layers stored ${stored} B = ${bits.toFixed(3)} bits/weight`,
      );
    });
  }

  test('3-bit RTN codes are stored at 3 bits (plus fp16/fp32 scales) and match fake-quant', async () => {
    const m = await loadModel(storiesModel);
    const results: LayerResult[] = BODY.map((name) => {
      const w = m.getWeight(name);
      return { layer: name, ...rtn(w.data, w.rows, w.cols, 3, 32) };
    });
    const packed = exportModel(m, results, { format: 'packed' });
    const fake = exportModel(m, results, { format: 'fake' });
    assert.ok(packed.layers.every((l) => l.written === 'packed' && !l.note));
    const a = await runModel(packed.bytes, feeds);
    const b = await runModel(fake.bytes, feeds);
    assert.ok(relErr(a, b) < 1e-6, `packed vs fake: ${relErr(a, b)}`);
    const params = BODY.reduce((s, n) => s + m.getWeight(n).rows * m.getWeight(n).cols, 0);
    const stored = packed.layers.reduce((s, l) => s + l.storedBytes!, 0);
    const bits = (stored * 8) / params;
    // 3 code bits + 32-bit scales and 8-bit zeros per 32 weights = 4.25, plus the decode nodes.
    assert.ok(bits > 4.25 && bits < 8, `${bits}`);
    const delta = fake.bytes.length - packed.bytes.length;
    assert.ok(
      Math.abs(delta - (fakeWeightBytes(fake.bytes, BODY) - stored)) <= 4 * BODY.length,
      `file delta ${delta} vs ${fakeWeightBytes(fake.bytes, BODY) - stored}`,
    );
    console.log(`# rtn 3-bit g32: fake ${fake.bytes.length} B, packed ${packed.bytes.length} B, ${bits.toFixed(3)} bits/weight`);
  });

  test('binarized layers under matmulnbits are stored packed (with a note); onnxruntime folds the decode at load and holds float weights', async () => {
    const m = await loadModel(storiesModel);
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-packed-'));
    for (const method of ['dualbin', 'pbllm'] as const) {
      const results = await binarize(m, method);
      const nbits = exportModel(m, results, { format: 'matmulnbits' });
      assert.ok(nbits.layers.every((l) => l.written === 'packed' && /stored packed/.test(l.note ?? '')));
      // Constant folding: the optimized graph onnxruntime runs has no decode op left, and its size is
      // the fake-quant model's (the decoded fp32 weights are what the session holds).
      const optimize = async (bytes: Uint8Array, name: string) => {
        const path = join(dir, `${method}-${name}.onnx`);
        await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic', optimizedModelFilePath: path });
        return { graph: (await loadModel(path)).graph, size: statSync(path).size };
      };
      const folded = await optimize(nbits.bytes, 'packed');
      const fake = await optimize(exportModel(m, results, { format: 'fake' }).bytes, 'fake');
      const consts = new Set(folded.graph.initializer.map((t) => t.name));
      const left = folded.graph.node.filter((n) => n.input.length > 0 && n.input.every((i) => !i || consts.has(i)));
      assert.deepEqual(
        left.map((n) => n.opType),
        [],
        `${method}: nodes with only constant inputs remain`,
      );
      assert.ok(!folded.graph.node.some((n) => ['BitShift', 'CumSum', 'Range'].includes(n.opType)));
      assert.ok(Math.abs(folded.size - fake.size) < 0.01 * fake.size, `${method}: optimized ${folded.size} vs fake ${fake.size}`);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
