/** Shared setup of the AWQ / SmoothQuant / OS+ tests: the Llama-like test model (stories260K or the tiny one) calibrated once (8 × 128 tokens). */
import { calibrateForPlan } from '../../../engine/job';
import { loadModel, type OnnxModel } from '../../../engine/onnx/model';
import type { InputStatistics } from '../../../engine/calibrate/calibrate';
import type { Method } from '../../../protocol/plan';
import { layerPlans, storiesPlan } from './planFixture';

/** The model and its calibration statistics (keyed by layer input tensor). */
export async function calibratedStories(): Promise<{ model: OnnxModel; stats: Map<string, InputStatistics> }> {
  const model = await loadModel(storiesPlan({ layers: [] }).modelPath);
  // jsq layers: calibration also collects JSQ's activation samples (the Hessians and channel stats are the same).
  const plan = storiesPlan({ layers: layerPlans('jsq', 4) });
  const c = await calibrateForPlan(plan, model, {});
  return { model, stats: c.stats };
}

/** Sum of the reports' rel_error. */
export const sumErr = (layers: { rel_error: number }[]) => layers.reduce((a, l) => a + l.rel_error, 0);

/** Plans of one method over all layers of the test model (asymmetric, group 32). */
export const plansOf = (method: Method, bits: number, settings: Record<string, unknown> = {}) =>
  layerPlans(method, bits, 32, undefined, settings);
