/**
 * Our pruning kernels against the authors' code on stories260K, on the same weights and Hessians:
 * calibrates once (examples/stories260K-sparse-reference.lowbit.yaml: parallel, 4-bit per row), dumps
 * every layer's W and H, runs bench/sparseReference.py (IST-DASLab/sparsegpt, locuslab/wanda in place
 * under /usr/bin/python3 + torch) and our kernels on them, and evaluates both fake-quant models on the
 * recipe's evaluation windows. Prints one JSON line per (method, sparsity) with ppl / KL / top-1 of
 * both, their mask agreement and the mean per-layer relative error tr(ΔHΔᵀ)/tr(WHWᵀ) of each.
 *
 * usage: node --import tsx bench/sparseReference.ts <sparsegpt snapshot> <wanda snapshot> [method:sparsity ...]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRecipePlan } from '../recipe/load';
import { modelHost } from '../language-server/src/services/modelSource';
import { loadModel } from '../engine/onnx/model';
import { calibrateForPlan, planLayers, statisticsView } from '../engine/job';
import { kernelFor } from '../engine/quantize/kernels';
import { exportModel } from '../engine/export/exportModel';
import { evaluateText } from '../engine/evaluate/evaluateText';
import { textWindows, vocabOf } from '../engine/data/text';
import { relativeError } from '../native/ts/index';
import type { LayerResult } from '../engine/export/types';
import type { LayerPlan, Method } from '../protocol/plan';
import { sparsityPlan } from '../recipe/resolvePlan';

const RECIPE = path.resolve(__dirname, '../examples/stories260K-sparse-reference.lowbit.yaml');

async function main(): Promise<void> {
  const [sgpt, wanda, ...which] = process.argv.slice(2);
  if (!sgpt || !wanda) throw new Error('usage: sparseReference.ts <sparsegpt dir> <wanda dir> [method:sparsity ...]');
  const runs = (which.length ? which : ['sparsegpt:0.5', 'wanda:0.5', 'magnitude:0.5', 'sparsegpt:2:4', 'wanda:2:4']).map((s) => {
    const i = s.indexOf(':');
    return { method: s.slice(0, i) as Method, sparsity: s.slice(i + 1) };
  });
  const { plan, diagnostics } = await loadRecipePlan(RECIPE, modelHost);
  if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const model = await loadModel(plan.modelPath);
  const { stats } = await calibrateForPlan(plan, model, {});
  const view = statisticsView(model, planLayers(plan, model));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-sparse-ref-'));
  const layers = plan.layers.map((l, i) => {
    const w = view.getWeight(l.name);
    const H = stats.get(view.layerInput(l.name))!.hessian;
    fs.writeFileSync(path.join(dir, `${i}.w`), new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
    const h = H.matrix();
    fs.writeFileSync(path.join(dir, `${i}.h`), new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
    return { plan: l, w, H };
  });
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify(layers.map((l) => ({ name: l.plan.name, rows: l.w.rows, cols: l.w.cols }))),
  );
  const e = plan.evaluation;
  if (e.kind !== 'text') throw new Error('the reference recipe evaluates on text');
  const windows = await textWindows({ ...e, offset: e.offset ?? 0, vocab: vocabOf(model.summary(), plan.modelPath) });
  const evaluate = async (results: LayerResult[]) => {
    const bytes = exportModel(model, results, { format: 'fake' }).bytes;
    const r = await evaluateText({ fpModel: plan.modelPath, quantizedModel: bytes, windows, threads: plan.threads });
    return { ppl: r.quantized!.perplexity, kl: r.kl_divergence!.mean, top1: r.top1_agreement! };
  };
  try {
    for (const run of runs) {
      const py = spawnSync(
        '/usr/bin/python3',
        [path.resolve(__dirname, 'sparseReference.py'), dir, sgpt, wanda, run.method, run.sparsity, String(4)],
        {
          encoding: 'utf8',
        },
      );
      if (py.status !== 0) throw new Error(`sparseReference.py ${run.method} ${run.sparsity}: ${py.stderr}`);
      const ours: LayerResult[] = [],
        theirs: LayerResult[] = [];
      let agree = 0,
        total = 0,
        errOurs = 0,
        errTheirs = 0;
      for (const [i, l] of layers.entries()) {
        const layer: LayerPlan = {
          ...l.plan,
          method: run.method,
          settings: {},
          sparsity: sparsityPlan(run.sparsity.includes(':') ? run.sparsity : Number(run.sparsity)),
        };
        const r = await kernelFor(
          run.method,
          layer.name,
        )({ layer, weight: l.w, input: { tensor: '', n: l.w.cols, hessian: l.H, layers: [] } as never });
        const t = new Float32Array(fs.readFileSync(path.join(dir, `${i}.${run.method}.out`)).buffer.slice(0));
        for (let k = 0; k < t.length; k++) agree += (t[k] === 0) === (r.dequant[k] === 0) ? 1 : 0;
        total += t.length;
        errOurs += relativeError(l.w.data, r.dequant, l.w.rows, l.w.cols, l.H) / layers.length;
        errTheirs += relativeError(l.w.data, t, l.w.rows, l.w.cols, l.H) / layers.length;
        ours.push({ layer: l.plan.name, dequant: r.dequant });
        theirs.push({ layer: l.plan.name, dequant: t });
      }
      const row = {
        ...run,
        bits: 4,
        ours: await evaluate(ours),
        authors: await evaluate(theirs),
        zero_pattern_agreement: agree / total,
        mean_rel_error: { ours: errOurs, authors: errTheirs },
      };
      console.log(JSON.stringify(row));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
