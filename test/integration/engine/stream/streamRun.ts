/**
 * What the streamed-path tests share: a plan in a calibration mode, the layers it calibrates, and one
 * `streamCompress` run of it over a loaded model and its calibration batches (a small RAM share, so
 * the activation cache spills to disk).
 */
import type { Feeds } from '../../../../engine/calibrate/calibrate';
import { CALIBRATED_OPS, planLayers } from '../../../../engine/job';
import type { OnnxModel } from '../../../../engine/onnx/model';
import { streamCompress } from '../../../../engine/stream/streamBlocks';
import type { JobPlan } from '../../../../protocol/plan';

/** `p` with its calibration mode set (returned for chaining). */
export function inMode(p: JobPlan, mode: 'parallel' | 'sequential'): JobPlan {
  p.calibration = { ...p.calibration, mode } as typeof p.calibration;
  return p;
}

/** The plan's layers that calibration observes. */
export function calibratedOf(p: JobPlan, model: OnnxModel) {
  return planLayers(p, model).filter((l) => CALIBRATED_OPS.has(l.op));
}

/** streamCompress of `p` in its own mode, with a 96 KiB RAM cache in `cacheFolder`; `extra` overrides any argument. */
export function streamRun(
  p: JobPlan,
  model: OnnxModel,
  batches: Feeds[],
  cacheFolder: string,
  extra: Partial<Parameters<typeof streamCompress>[0]> = {},
) {
  const calibrated = calibratedOf(p, model);
  return streamCompress({
    plan: p,
    model,
    ops: new Map(calibrated.map((l) => [l.name, l.op])),
    calibrated,
    batches,
    mode: p.calibration.mode,
    cacheFolder,
    cacheRamBytes: 96 * 1024,
    ...extra,
  });
}
