/**
 * Pruned layers in the `packed` format: a bitmap plus the surviving codes, decoded by a standard-op
 * subgraph in onnxruntime. The packed model computes what the fake-quant model does, and the file is
 * smaller than the same codes stored dense.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exportModel } from '../../../engine/export/exportModel';
import type { LayerResult } from '../../../engine/export/types';
import { loadModel, parseModel, type OnnxModel } from '../../../engine/onnx/model';
import { sparseKernels } from '../../../engine/quantize/sparseKernels';
import { Hessian } from '../../../native/ts/index';
import type { LayerPlan, SparsityPlan } from '../../../protocol/plan';
import type { InputStatistics } from '../../../engine/calibrate/inputStatistics';
import { randn, skipNoStories, storiesModel } from '../../unit/engine/onnx/tinyModels';
import { relErr, runModel, tokens } from './exportFixtures';

const BODY = Array.from({ length: 5 }, (_, i) => ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'].map((w) => `layers.${i}.${w}`)).flat();

async function prune(
  m: OnnxModel,
  method: 'sparsegpt' | 'wanda' | 'magnitude',
  sparsity: SparsityPlan,
  bits: number,
): Promise<LayerResult[]> {
  const out: LayerResult[] = [];
  for (const [i, name] of BODY.entries()) {
    const w = m.getWeight(name);
    const hessian = new Hessian(w.cols);
    await hessian.add(randn(4 * w.cols * w.cols, i + 1), 4 * w.cols);
    const input = { tensor: 'x', n: w.cols, hessian, layers: [name] } as unknown as InputStatistics;
    const layer: LayerPlan = { name, method, bits, groupSize: 32, symmetric: false, settings: {}, sparsity, rules: [0] };
    const r = await sparseKernels[method]({ layer, weight: w, input, threads: 1 });
    assert.ok(r.details?.sparsity, 'a pruning kernel reports its sparsity');
    out.push({ layer: name, dequant: r.dequant, q: r.q as LayerResult['q'], sparse: true });
  }
  return out;
}

describe('packed export of pruned stories260K layers', { skip: skipNoStories }, () => {
  const feeds = { input_ids: tokens(2, 9) };
  const cases: ['sparsegpt' | 'wanda' | 'magnitude', SparsityPlan, number][] = [
    ['sparsegpt', { ratio: 0.5 }, 4],
    ['wanda', { n: 2, m: 4 }, 4],
    ['magnitude', { ratio: 0.75 }, 8],
  ];
  for (const [method, sparsity, bits] of cases)
    test(`${method} ${JSON.stringify(sparsity)} ${bits}-bit: bitmap + surviving codes compute the fake-quant outputs from a smaller file`, async () => {
      const m = await loadModel(storiesModel);
      const results = await prune(m, method, sparsity, bits);
      const sparse = exportModel(m, results, { format: 'packed' });
      const dense = exportModel(
        m,
        results.map((r) => ({ ...r, sparse: false })),
        { format: 'packed' },
      );
      const fake = exportModel(m, results, { format: 'fake' });
      assert.ok(
        sparse.layers.every((l) => l.written === 'packed' && !l.note),
        JSON.stringify(sparse.layers.find((l) => l.written !== 'packed' || l.note)),
      );
      const g = parseModel(sparse.bytes, 'sparse.onnx').graph;
      assert.ok(g.node.some((n) => n.opType === 'CumSum') && g.node.every((n) => !n.domain || n.domain === 'ai.onnx'));
      const a = await runModel(sparse.bytes, feeds);
      const b = await runModel(fake.bytes, feeds);
      const c = await runModel(dense.bytes, feeds);
      assert.ok(relErr(a, b) < 1e-6, `sparse packed vs fake: ${relErr(a, b)}`);
      assert.ok(relErr(c, b) < 1e-6, `dense packed vs fake: ${relErr(c, b)}`);
      // Codes: b bits a weight dense; 1 bit + b bits per survivor sparse. The sparse decode adds a fixed
      // ≈0.6 KB of nodes and shapes per layer (bitmap unpacking, CumSum, Gather, Where): on these
      // 2k–11k-weight layers that is most of the gain; it vanishes on real layer sizes.
      const OVERHEAD = 700;
      let saved = 0;
      for (const [i, name] of BODY.entries()) {
        const n = m.getWeight(name).rows * m.getWeight(name).cols;
        let kept = 0;
        for (const v of results[i]!.dequant) kept += v !== 0 ? 1 : 0;
        const codes = (n * bits - (n + (kept + 1) * bits)) / 8;
        saved += codes;
        const got = dense.layers[i]!.storedBytes! - sparse.layers[i]!.storedBytes!;
        assert.ok(got >= codes - OVERHEAD && got <= codes + 64, `${name}: stored ${got} B less, the codes alone ${codes} B`);
      }
      const sStored = sparse.layers.reduce((s, l) => s + l.storedBytes!, 0);
      const dStored = dense.layers.reduce((s, l) => s + l.storedBytes!, 0);
      assert.ok(saved > 0 && dStored - sStored > saved - OVERHEAD * BODY.length, `stored ${sStored} B sparse vs ${dStored} B dense`);
      assert.ok(sparse.bytes.length < dense.bytes.length, `file ${sparse.bytes.length} vs ${dense.bytes.length}`);
      console.log(
        `# ${method} ${JSON.stringify(sparsity)} ${bits}-bit: packed sparse ${sparse.bytes.length} B (layers ${sStored} B), dense ${dense.bytes.length} B (layers ${dStored} B), fake ${fake.bytes.length} B`,
      );
    });
});
