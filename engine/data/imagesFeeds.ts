/**
 * Calibration/evaluation feeds from images and from .npy/.npz tensors, in the engine's feed shape
 * (`Record<inputName, ort.Tensor>`, one record per batch). Pipeline hook (engine/calibrate/calibrationData.ts,
 * before the `switch`):  `const vision = await visionCalibrationFeeds(plan, summary); if (vision) return vision;`
 */
import * as ort from 'onnxruntime-node';
import type { CalibrationPlan, ImageInputPlan } from '../../protocol/plan';
import type { ModelSummary } from '../../protocol/model';
import { listImages, loadImage, preprocessImage, PADDLE_REC_MAX_WIDTH } from './images';
import { readTensorSource } from './npyArchive';
import type { NpyArray } from './npy';

/** One batch of named input tensors. */
export type TensorFeeds = Record<string, ort.Tensor>;

/** Feeds plus the bookkeeping the job reports (mirrors calibrate/calibrationData's CalibrationFeeds). */
export interface FeedSet {
  batches: TensorFeeds[];
  samples: number;
  warnings: string[];
}

/** Feeds for the `images` and `tensors` calibration kinds (tensors: `batchSize` samples a batch); undefined for the other kinds. */
export async function visionCalibrationFeeds(
  plan: CalibrationPlan,
  summary: Pick<ModelSummary, 'path' | 'inputs'>,
  batchSize = 8,
): Promise<FeedSet | undefined> {
  if (plan.kind === 'images') return imageCalibrationFeeds(plan, summary);
  if (plan.kind === 'tensors') return tensorCalibrationFeeds(plan, summary, batchSize);
  return undefined;
}

/**
 * Images → one feed per image (batch 1: keep-aspect widths differ; PaddleOCR caps lines at 320 px).
 * The model's first input receives the image.
 */
export async function imageCalibrationFeeds(
  plan: { path: string; samples: number; image: ImageInputPlan },
  summary: Pick<ModelSummary, 'path' | 'inputs'>,
): Promise<FeedSet> {
  const input = summary.inputs[0];
  if (!input) throw new Error(`${summary.path}: the model has no graph input`);
  if (input.dtype !== 'float32') throw new Error(`${summary.path}: image data needs a float32 input, but ${input.name} is ${input.dtype}`);
  const set = listImages(plan.path).slice(0, plan.samples);
  const warnings =
    set.length < plan.samples ? [`calibration: ${plan.path} holds only ${set.length} images (asked for ${plan.samples})`] : [];
  const batches: TensorFeeds[] = [];
  for (const item of set) {
    const t = preprocessImage(await loadImage(item.path), plan.image, plan.image.width < 0 ? PADDLE_REC_MAX_WIDTH : Infinity);
    checkDims(t.dims, input.dims, `${item.path} → ${input.name}`);
    batches.push({ [input.name]: new ort.Tensor('float32', t.data, t.dims) });
  }
  return { batches, samples: set.length, warnings };
}

/**
 * Tensors (.npy / .npz / folder) → feeds. Arrays are matched to model inputs by name; a model with
 * one input also takes a lone array of any name. The first axis is the sample axis; batches of
 * `batchSize` samples. Integer arrays feed int64/int32 inputs, float arrays float32 inputs.
 */
export function tensorCalibrationFeeds(
  plan: { path: string; samples: number },
  summary: Pick<ModelSummary, 'path' | 'inputs'>,
  batchSize = 8,
): FeedSet {
  const arrays = readTensorSource(plan.path);
  const bound = summary.inputs.map((inp) => {
    const a = arrays.get(inp.name) ?? (summary.inputs.length === 1 && arrays.size === 1 ? [...arrays.values()][0] : undefined);
    if (!a)
      throw new Error(
        `${plan.path}: no array named "${inp.name}" for input ${inp.name} of ${summary.path} (arrays: ${[...arrays.keys()].join(', ')})`,
      );
    if (a.shape.length < 1) throw new Error(`${plan.path}: array for ${inp.name} is a scalar; the first axis must be the sample axis`);
    return { input: inp, array: a };
  });
  const available = Math.min(...bound.map((b) => b.array.shape[0]));
  const count = Math.min(available, plan.samples);
  const batches: TensorFeeds[] = [];
  for (let s0 = 0; s0 < count; s0 += batchSize) {
    const nb = Math.min(batchSize, count - s0);
    const feeds: TensorFeeds = {};
    for (const { input, array } of bound) feeds[input.name] = sliceTensor(array, s0, nb, input.dtype, `${plan.path} → ${input.name}`);
    batches.push(feeds);
  }
  const warnings =
    available < plan.samples ? [`calibration: ${plan.path} holds only ${available} samples (asked for ${plan.samples})`] : [];
  return { batches, samples: count, warnings };
}

function sliceTensor(a: NpyArray, start: number, n: number, dtype: string, where: string): ort.Tensor {
  const row = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const dims = [n, ...a.shape.slice(1)];
  const part = a.data.slice(start * row, (start + n) * row);
  if (dtype === 'float32') {
    if (part instanceof BigInt64Array) throw new Error(`${where}: int64 data for a float32 input`);
    return new ort.Tensor('float32', part instanceof Float32Array ? part : Float32Array.from(part), dims);
  }
  if (dtype === 'int64') {
    if (part instanceof BigInt64Array) return new ort.Tensor('int64', part, dims);
    if (part instanceof Float32Array) throw new Error(`${where}: float data for an int64 input`);
    return new ort.Tensor(
      'int64',
      BigInt64Array.from(part, (v) => BigInt(v)),
      dims,
    );
  }
  if (dtype === 'int32' && part instanceof Int32Array) return new ort.Tensor('int32', part, dims);
  if (dtype === 'uint8' && part instanceof Uint8Array) return new ort.Tensor('uint8', part, dims);
  throw new Error(`${where}: cannot feed ${a.dtype} data to a ${dtype} input`);
}

function checkDims(got: readonly number[], want: readonly (number | string)[], where: string): void {
  if (want.length !== got.length)
    throw new Error(`${where}: image tensor [${got}] has rank ${got.length}, the input has rank ${want.length} ([${want}])`);
  want.forEach((d, i) => {
    if (typeof d === 'number' && d > 0 && d !== got[i])
      throw new Error(`${where}: image tensor [${got}] does not fit input dims [${want}] (axis ${i}); check image.height/width/layout`);
  });
}
