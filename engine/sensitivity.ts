/**
 * Layer sensitivity: (1) a Hessian proxy for every planned layer at once — the relative output error
 * tr(ΔHΔᵀ)/tr(WHWᵀ) of the layer quantized with its planned method — then (2) the measured end-to-end
 * KL(FP‖Q) on the evaluation text with only that layer fake-quantized, layer by layer (slowest part;
 * updates stream out as each layer finishes).
 */
import type { JobPlan } from '../protocol/plan';
import { calibrateForPlan, planLayers, statisticsView } from './job';
import { resolveTextOffsets, textWindows } from './data/text';
import { evaluateText } from './evaluate/evaluateText';
import { fakeQuantBytes } from './exportStep';
import { loadModel } from './onnx/model';
import { quantizeLayers } from './quantize/quantizeLayers';

export interface SensitivityEntry {
  layer: string;
  /** Hessian proxy (relative output error under the calibration Hessian). */
  proxy: number;
  /** Mean end-to-end KL(FP‖Q) with only this layer quantized (absent until measured). */
  kl?: number;
}

export interface SensitivityUpdate {
  phase: 'proxy' | 'kl';
  entries: SensitivityEntry[];
  /** Layer just measured (phase kl). */
  layer?: string;
  done: number;
  total: number;
}

/** Runs the sensitivity analysis; resolves with one entry per planned layer, in plan order. */
export async function runSensitivity(
  plan: JobPlan,
  opts: { signal?: AbortSignal; onUpdate?: (u: SensitivityUpdate) => void } = {},
): Promise<SensitivityEntry[]> {
  const { signal, onUpdate } = opts;
  const model = await loadModel(plan.modelPath);
  const ops = new Map(planLayers(plan, model).map((l) => [l.name, l.op]));
  let calibrationOffset: number | undefined, evaluationOffset: number | undefined;
  if (plan.calibration.kind === 'text') {
    const r = await resolveTextOffsets(plan.calibration, plan.evaluation.kind === 'text' ? plan.evaluation : undefined);
    calibrationOffset = r.calibrationOffset;
    evaluationOffset = r.evaluationOffset;
  }
  const cal = await calibrateForPlan(plan, model, { signal, calibrationOffset });
  const quantized = await quantizeLayers({ plan, model: statisticsView(model, planLayers(plan, model)), ops, stats: cal.stats, signal });
  const entries: SensitivityEntry[] = quantized.map((q) => ({ layer: q.layer, proxy: q.report.rel_error }));
  const total = entries.length;
  onUpdate?.({ phase: 'proxy', entries, done: 0, total });
  const ev = plan.evaluation;
  if (ev.kind !== 'text') return entries;
  const windows = await textWindows({ ...ev, offset: evaluationOffset });
  // External weights stay references in both models' bytes, loaded in place from the model's folder.
  const fpBytes = model.sessionBytes();
  for (let i = 0; i < total; i++) {
    signal?.throwIfAborted();
    const r = await evaluateText({
      fpModel: fpBytes,
      quantizedModel: fakeQuantBytes(model, [quantized[i]]),
      windows,
      threads: plan.threads,
      signal,
      externalDataDir: model.externalDataDir,
      inputs: plan.inputs,
    });
    entries[i].kl = r.kl_divergence!.mean;
    onUpdate?.({ phase: 'kl', entries, layer: entries[i].layer, done: i + 1, total });
  }
  return entries;
}
