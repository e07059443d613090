/**
 * Pruned layers in the `packed` format: a bitmap plus the surviving codes, decoded by a standard-op
 * subgraph in onnxruntime. The packed model computes what the fake-quant model does, and the file is
 * smaller than the same codes stored dense.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exportModel } from '../../../engine/export/exportModel';
import { INDEX_DECODE_EXTRA_BYTES } from '../../../engine/export/packedWriter';
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
  names = BODY,
): Promise<LayerResult[]> {
  const out: LayerResult[] = [];
  for (const [i, name] of names.entries()) {
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

describe('packed export of N:M-pruned stories260K layers: index codes', { skip: skipNoStories }, () => {
  const feeds = { input_ids: tokens(2, 9) };
  const cases: ['sparsegpt' | 'wanda', { n: number; m: number }, number][] = [
    ['sparsegpt', { n: 2, m: 4 }, 4],
    ['wanda', { n: 4, m: 8 }, 3],
  ];
  const C = (n: number, k: number): number => (k === 0 ? 1 : (C(n - 1, k - 1) * n) / k);
  for (const [method, nm, bits] of cases)
    test(`${method} ${nm.n}:${nm.m} ${bits}-bit: pattern codes compute the fake-quant outputs; smaller than the bitmap form by the payload`, async () => {
      const m = await loadModel(storiesModel);
      // 4:8 needs widths that are multiples of 8: w2 (172 wide) is left out there.
      const names = BODY.filter((n) => m.getWeight(n).cols % nm.m === 0);
      const results = (await prune(m, method, nm, bits, names)).map((r) => ({ ...r, nm }));
      const index = exportModel(m, results, { format: 'packed', sparseForm: 'index' });
      const bitmap = exportModel(m, results, { format: 'packed', sparseForm: 'bitmap' });
      const smaller = exportModel(m, results, { format: 'packed' });
      const fake = exportModel(m, results, { format: 'fake' });
      assert.ok(
        index.layers.every((l) => l.written === 'packed' && l.sparseForm === 'index'),
        JSON.stringify(index.layers.find((l) => l.sparseForm !== 'index')),
      );
      assert.ok(bitmap.layers.every((l) => l.sparseForm === 'bitmap'));
      assert.ok(fake.layers.every((l) => l.sparseForm === 'dense'));
      const g = parseModel(index.bytes, 'index.onnx').graph;
      assert.ok(
        g.node.every((n) => !n.domain || n.domain === 'ai.onnx'),
        'standard ops only',
      );
      const b = await runModel(fake.bytes, feeds);
      for (const [what, bytes] of [
        ['index', index.bytes],
        ['smaller', smaller.bytes],
      ] as const) {
        const a = await runModel(bytes, feeds);
        assert.ok(relErr(a, b) < 1e-6, `${what} packed vs fake: ${relErr(a, b)}`);
      }
      // Payload from the layer shape: bitmap ⌈n/8⌉ B + b planes of ⌈(nonzeros+1)/8⌉ B; index codes
      // ⌈log₂ C(m, keep)⌉ planes of ⌈groups/8⌉ B + b planes of ⌈(groups·keep+1)/8⌉ B. The index decode
      // adds a few nodes a layer (47–200 B measured; INDEX_DECODE_EXTRA_BYTES is the typical cost the writer
      // weighs), the first layer also the shared pattern table.
      const keep = nm.m - nm.n,
        patterns = C(nm.m, keep),
        pb = Math.ceil(Math.log2(patterns));
      let payload = 0;
      for (const [i, r] of results.entries()) {
        const w = m.getWeight(r.layer);
        const n = w.rows * w.cols,
          groups = n / nm.m;
        let nz = 0;
        for (const v of r.dequant) nz += v !== 0 ? 1 : 0;
        const want =
          Math.ceil(n / 8) + bits * Math.ceil((nz + 1) / 8) - (pb * Math.ceil(groups / 8) + bits * Math.ceil((groups * keep + 1) / 8));
        payload += want;
        const got = bitmap.layers[i]!.storedBytes! - index.layers[i]!.storedBytes!;
        const table = i === 0 ? patterns * nm.m + 40 : 0;
        assert.ok(got <= want + 8 && got >= want - 220 - table, `${r.layer}: ${got} B less stored, payload ${want} B less`);
        // `smaller` picks index codes exactly where the payload saving outweighs the extra decode nodes.
        const picked = smaller.layers[i]!.sparseForm;
        if (Math.abs(want - INDEX_DECODE_EXTRA_BYTES) > 8)
          assert.equal(picked, want > INDEX_DECODE_EXTRA_BYTES ? 'index' : 'bitmap', `${r.layer}: payload saving ${want} B`);
      }
      if (smaller.layers.some((l) => l.sparseForm === 'index'))
        assert.ok(smaller.bytes.length < bitmap.bytes.length, `file ${smaller.bytes.length} vs bitmap ${bitmap.bytes.length} B`);
      console.log(
        `# ${method} ${nm.n}:${nm.m} ${bits}-bit: all index codes ${index.bytes.length} B, all bitmap ${bitmap.bytes.length} B, smaller of the two ${smaller.bytes.length} B (${smaller.layers.filter((l) => l.sparseForm === 'index').length} index layers), payload saving ${payload} B`,
      );
    });
});
