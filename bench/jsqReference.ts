/**
 * JSQ's saliency against the authors' code on stories260K, same weights and activations: calibrates
 * examples/stories260K-sparse-reference.lowbit.yaml (parallel: every layer sees FP activations) with
 * `calibration.samples` cut to 4 windows, so the activation sample JSQ keeps (512 tokens) is every
 * calibration token; dumps each layer's W and those activations; runs bench/jsqReference.py
 * (uanu2002/JSQ's WrappedGPT, clip_matrix and generate_ss in place under /usr/bin/python3 + torch);
 * compares R_ij (generate_ss) and the 50% mask with ours (outputRangeTerm, jsqSaliency, rowMask on the
 * same statistics), and the authors' per-window clip thresholds at clip_h = 0.01 with our one
 * threshold over the sample at the same fraction. Prints one JSON line per setting.
 *
 * usage: node --import tsx bench/jsqReference.ts <JSQ snapshot folder>
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRecipePlan } from '../recipe/load';
import { modelHost } from '../language-server/src/services/modelSource';
import { loadModel } from '../engine/onnx/model';
import { calibrateForPlan, planLayers, statisticsView } from '../engine/job';
import { clipThreshold, jsqSaliency, outputRangeTerm, rowMask } from '../engine/quantize/jsq';

const RECIPE = path.resolve(__dirname, '../examples/stories260K-sparse-reference.lowbit.yaml');
const WINDOWS = 4;

/** A float64 file (copied out of the Buffer: small reads share a pooled ArrayBuffer). */
function f64(file: string): Float64Array {
  const b = fs.readFileSync(file);
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

async function main(): Promise<void> {
  const jsqDir = process.argv[2];
  if (!jsqDir) throw new Error('usage: jsqReference.ts <JSQ snapshot folder>');
  const { plan, diagnostics } = await loadRecipePlan(RECIPE, modelHost);
  if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  if (plan.calibration.kind !== 'text') throw new Error('the reference recipe calibrates on text');
  plan.calibration.samples = WINDOWS;
  plan.layers = plan.layers.map((l) => ({ ...l, method: 'jsq', settings: {} }));
  const model = await loadModel(plan.modelPath);
  const { stats } = await calibrateForPlan(plan, model, {});
  const view = statisticsView(model, planLayers(plan, model));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-jsq-ref-'));
  const window = plan.calibration.sequenceLength;
  const layers = plan.layers.map((l, i) => {
    const w = view.getWeight(l.name);
    const input = stats.get(view.layerInput(l.name))!;
    const x = input.stats.sample!.tokens();
    if (x.rows !== WINDOWS * window) throw new Error(`${l.name}: ${x.rows} sample rows, expected ${WINDOWS * window}`);
    fs.writeFileSync(path.join(dir, `${i}.w`), new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
    fs.writeFileSync(path.join(dir, `${i}.x`), new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength));
    return { name: l.name, w, input, x };
  });
  fs.writeFileSync(
    path.join(dir, 'manifest.json'),
    JSON.stringify(layers.map((l) => ({ name: l.name, rows: l.w.rows, cols: l.w.cols, windows: WINDOWS, window }))),
  );
  try {
    for (const [rho, clipH] of [
      [2.1, 0],
      [0, 0],
      [2.1, 0.01],
    ]) {
      const py = spawnSync(
        '/usr/bin/python3',
        [path.resolve(__dirname, 'jsqReference.py'), dir, jsqDir, String(rho), '0.5', String(clipH)],
        {
          encoding: 'utf8',
        },
      );
      if (py.status !== 0) throw new Error(`jsqReference.py: ${py.stderr}`);
      let agree = 0,
        total = 0,
        ssDiff = 0,
        tauRatio = 0;
      for (const [i, l] of layers.entries()) {
        const { rows, cols } = l.w;
        const mean = l.input.stats.sample!.mean();
        const H = l.input.hessian.matrix();
        const colNorm = Float64Array.from({ length: cols }, (_, j) => Math.sqrt((mean.rows * H[j * cols + j]) / 2));
        const ss = f64(path.join(dir, `${i}.ss`));
        const R = await outputRangeTerm(l.w.data, rows, cols, mean.data, mean.rows);
        let scale = 0;
        for (const v of ss) scale = Math.max(scale, Math.abs(v));
        for (let k = 0; k < R.length; k++) ssDiff = Math.max(ssDiff, Math.abs(R[k] - ss[k]) / scale);
        const pruned = fs.readFileSync(path.join(dir, `${i}.mask`));
        if (clipH === 0) {
          const keep = rowMask(await jsqSaliency(l.w.data, rows, cols, colNorm, mean.data, mean.rows, rho), rows, cols, { ratio: 0.5 });
          for (let k = 0; k < keep.length; k++) agree += keep[k] === 1 - pruned[k] ? 1 : 0;
          total += keep.length;
        } else {
          const taus = f64(path.join(dir, `${i}.tau`));
          const ours = clipThreshold(Float32Array.from(l.x.data, Math.abs).sort().reverse(), clipH)!;
          tauRatio += ours / (taus.reduce((a, b) => a + b, 0) / taus.length) / layers.length;
        }
      }
      console.log(
        JSON.stringify(
          clipH === 0
            ? { rho, clip_h: clipH, same_mask: agree / total, max_rel_diff_R: ssDiff }
            : { rho, clip_h: clipH, our_tau_over_their_mean_window_tau: tauRatio },
        ),
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
