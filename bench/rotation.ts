/**
 * `npm run bench -- rotation`: issue 14's rotation claims on stories260K. Every base configuration of
 * bench/rotationConfigs.ts is measured without rotation, with ours (offline, and offline + online
 * before the MLP down projections; seeds ROTATION_SEEDS) and with QuaRot's own rotation run in place
 * (bench/quarotReference.ts; skipped, saying why, when its checkout or torch is missing). Prints the
 * weight comparison with QuaRot and the table of docs/results.md. LOWBIT_BENCH_EVAL_SAMPLES overrides
 * the evaluation windows (64); LOWBIT_BENCH_ROTATION_BASES a comma list of base ids.
 * Each base is also measured on stories260K with the norms' γ folded into their readers and the identity
 * as R ("γ folded, R = I"): the model every rotation starts from, so the rotation's own effect is the step
 * from that row to the rotated ones, and the fold's cost is the step from "none" to it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envEvalSetup, measure, type QualityConfig, type QualityRow } from './qualityConfigs';
import { ROTATION_BASES, ROTATION_SEEDS, ROTATIONS } from './rotationConfigs';
import { compareWithQuarot, denseRotation } from './quarotReference';
import { loadModel } from '../engine/onnx/model';
import { findRotationPlan, rotateModel } from '../engine/transforms/rotation';
import { skipNoShared, stories } from '../test/integration/engine/sharedFixtures';

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export async function main(): Promise<void> {
  if (skipNoShared) {
    console.log(`skipped: ${skipNoShared}`);
    return;
  }
  const setup = envEvalSetup();
  const only = process.env.LOWBIT_BENCH_ROTATION_BASES?.split(',');
  const bases = ROTATION_BASES.filter((b) => !only || only.includes(b.id));
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-rotation-bench-'));
  try {
    const q = await compareWithQuarot(stories.model, ROTATION_SEEDS[0], dir);
    if (q.why) console.log(`QuaRot reference: skipped (${q.why})`);
    else {
      console.log(`QuaRot reference (torch ${q.torch}), seed ${ROTATION_SEEDS[0]}: max |ours − QuaRot| given QuaRot's Q:`);
      for (const [k, v] of Object.entries(q.weightDiff!)) console.log(`  ${k}: ${v.toExponential(2)}`);
      console.log(
        `  QuaRot centres the embedding rows (max |row mean| ${q.embeddingMeanShift!.toFixed(4)}), which changes an RMSNorm model's outputs`,
      );
    }
    console.log(
      `stories260K, 35 body layers (LM head fp32); calibration ${setup.calibSamples}×${setup.sequenceLength} from ${setup.calibOffset}, evaluation ${setup.evalSamples}×${setup.sequenceLength} from ${setup.evalOffset}`,
    );
    console.log('| config | rotation | ppl (fp) | KL mean | top-1 agree |\n|---|---|---|---|---|');
    const line = (id: string, tag: string, rows: QualityRow[]) => {
      const ppl = rows.map((r) => r.ppl),
        kl = rows.map((r) => r.kl),
        top1 = rows.map((r) => r.top1);
      const spread = rows.length > 1 ? ` [${ppl.map((p) => p.toFixed(2)).join(', ')}]` : '';
      console.log(
        `| ${id} | ${tag} | ${mean(ppl).toFixed(3)}${spread} (${rows[0].fpPpl.toFixed(3)}) | ${mean(kl).toFixed(4)} | ${(100 * mean(top1)).toFixed(1)}% |`,
      );
    };
    // The rotation's starting point: γ folded into the readers, R = I (same FP outputs).
    const source = await loadModel(stories.model);
    const d = findRotationPlan(source).size,
      eye = new Float32Array(d * d);
    for (let i = 0; i < d; i++) eye[i * d + i] = 1;
    const foldedPath = join(dir, 'gamma-folded.onnx');
    writeFileSync(foldedPath, rotateModel(source, { seed: 0, rotation: denseRotation(eye, d, 'identity') }).model.serialize());
    for (const base of bases) {
      line(base.id, 'none', [await measure(base, setup)]);
      line(base.id, 'γ folded, R = I', [await measure({ ...base, modelPath: foldedPath }, setup)]);
      for (const r of ROTATIONS) {
        const rows: QualityRow[] = [];
        for (const seed of ROTATION_SEEDS) rows.push(await measure({ ...base, rotation: r.rotation(seed) } as QualityConfig, setup));
        line(base.id, `${r.tag} (seeds ${ROTATION_SEEDS.join(',')})`, rows);
      }
      if (q.quarotModel) {
        line(base.id, 'QuaRot, embedding mean kept', [await measure({ ...base, modelPath: q.quarotModelMeanKept }, setup)]);
        line(base.id, 'QuaRot as published', [await measure({ ...base, modelPath: q.quarotModel }, setup)]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
