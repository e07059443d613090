/**
 * Calibration ("parallel" mode): run the FP model once over the calibration batches with every distinct
 * layer-input tensor added as a graph output, and stream each fetched tensor into that input's
 * accumulators — a native Hessian (H = 2XXᵀ/N, GPTQ convention) and per-channel |x| statistics.
 * Layers reading the same tensor share one accumulator. Conv layers are streamed through im2col
 * (engine/tasks/im2col.ts): their accumulator is keyed by tensor + geometry (see {@link statisticsKey}),
 * so two Convs reading one tensor with different kernels get separate Hessians. ConvTranspose layers
 * stream the input's per-pixel channel vectors (no im2col; the geometry does not matter, only the
 * group count, which is in their key). Only one batch of
 * activations is alive at a time; memory is O(Σ n²) for the Hessians, independent of the sample count.
 */
import type * as ort from 'onnxruntime-node';
import { openSession } from '../evaluate/ortSession';
import { halfToFloat } from '../onnx/tensor';
import type { OnnxModel } from '../onnx/model';
import type { QuantizeModel } from '../quantize/kernelTypes';
import { ChannelStats } from './channelStats';
import { CrossStatistic, Hessian } from '../../native/ts/index';
import type { InputStatistics } from './inputStatistics';

export type { InputStatistics } from './inputStatistics';
import { addChannelActivation, addConvActivation, convGeometryFromAttributes, type RowAccumulator } from '../tasks/im2col';

/** A Conv layer's node attributes and weight dims [O, I/g, kh, kw], for im2col. */
export interface ConvSpec {
  node: string;
  attributes: Parameters<typeof convGeometryFromAttributes>[1];
  kernelDims: readonly number[];
}

/** A ConvTranspose layer: its node and group count (its Hessian is over input channels per group). */
export interface ConvTransposeSpec {
  node: string;
  group: number;
}

/** A calibrated layer: the tensor it reads, its `in` size, and for Conv/ConvTranspose its geometry. */
export interface CalibratedLayer {
  name: string;
  input: string;
  cols: number;
  conv?: ConvSpec;
  convTranspose?: ConvTransposeSpec;
  /** Also collect JSQ's activation samples (engine/calibrate/tokenSample.ts) for this input. */
  tokenSample?: boolean;
}

/**
 * The key of a layer's statistics in calibrate()'s result: the input tensor name for MatMul/Gemm;
 * for Conv the tensor name plus its kernel/stride/pads/dilation/group/auto_pad attributes.
 */
export function statisticsKey(l: Pick<CalibratedLayer, 'input' | 'conv' | 'convTranspose'>): string {
  if (l.convTranspose) return `${l.input}#channels g${l.convTranspose.group}`;
  if (!l.conv) return l.input;
  const a = l.conv.attributes;
  const ints = (n: string) =>
    a
      .find((x) => x.name === n)
      ?.ints?.map(Number)
      .join('x') ?? '-';
  const group = Number(a.find((x) => x.name === 'group')?.i ?? 1);
  const autoPadRaw = a.find((x) => x.name === 'auto_pad')?.s;
  const autoPad =
    autoPadRaw === undefined ? 'NOTSET' : typeof autoPadRaw === 'string' ? autoPadRaw : Buffer.from(autoPadRaw).toString('utf8');
  const kernel =
    a
      .find((x) => x.name === 'kernel_shape')
      ?.ints?.map(Number)
      .join('x') ?? l.conv.kernelDims.slice(2).join('x');
  return `${l.input}#conv k${kernel} s${ints('strides')} p${ints('pads')} d${ints('dilations')} g${group} ${autoPad}`;
}

/**
 * The model as quantizeLayers sees it: `layerInput` returns the key of the layer's calibration
 * statistics ({@link statisticsKey}: for Conv, the input tensor plus its geometry).
 */
export function statisticsView(model: OnnxModel, layers: CalibratedLayer[]): QuantizeModel {
  const keys = new Map(layers.map((l) => [l.name, statisticsKey(l)]));
  return { getWeight: (name) => model.getWeight(name), layerInput: (name) => keys.get(name) ?? model.layerInput(name) };
}

/** One calibration batch: the model's feeds. */
export type Feeds = Record<string, ort.Tensor>;

/** What calibration needs from the loaded model. */
export interface CalibrationModel {
  /** The model bytes with the given tensors added as graph outputs (external data may stay references). */
  withExtraOutputs(names: string[]): Uint8Array;
  /** The folder those bytes' external-data locations are resolved from (the source model's), if any. */
  readonly externalDataDir?: string;
}

/**
 * Runs calibration and returns statistics keyed by {@link statisticsKey} (the input tensor name for MatMul/Gemm).
 * @param layers each quantized layer with the tensor it reads, its `in` size, and for Conv its geometry
 * @throws Error naming the tensor and layer when a fetched activation does not match the weight's `in`
 */
export async function calibrate(opts: {
  model: CalibrationModel;
  layers: CalibratedLayer[];
  batches: Feeds[] | (() => AsyncIterable<Feeds>);
  threads: number;
  signal?: AbortSignal;
  onBatch?: (done: number, total: number | undefined) => void;
  /**
   * The float model (GPTAQ, sequential mode): run on the same batches, its layer inputs x give the
   * cross statistic D = 2/N·Σ (x − x̃)x̃ᵀ against `model`'s x̃ (MatMul/Gemm inputs only).
   */
  reference?: CalibrationModel;
}): Promise<Map<string, InputStatistics>> {
  const byInput = new Map<string, InputStatistics>();
  const keys = statisticsKeys(opts.layers);
  const names = [...new Set([...keys.values()].map((k) => k.input))];
  if (!names.length) return byInput;
  const session = await openSession(opts.model.withExtraOutputs(names), opts.threads, 'calibration model', opts.model.externalDataDir);
  const reference = opts.reference
    ? await openSession(
        opts.reference.withExtraOutputs(names),
        opts.threads,
        'float reference model',
        opts.reference.externalDataDir,
      ).catch(async (e: unknown) => {
        await session.release();
        throw e;
      })
    : undefined;
  try {
    const batches = Array.isArray(opts.batches) ? opts.batches : undefined;
    const iterable: AsyncIterable<Feeds> | Feeds[] = batches ?? (opts.batches as () => AsyncIterable<Feeds>)();
    let done = 0;
    for await (const feeds of iterable) {
      opts.signal?.throwIfAborted();
      const out = await session.run(feeds, names);
      await accumulateBatch(byInput, keys, out, opts.threads, done + 1);
      if (reference) accumulateCross(byInput, keys, await reference.run(feeds, names), out, opts.threads, done + 1);
      done++;
      opts.onBatch?.(done, batches?.length);
    }
    if (!done) throw new Error('calibration: no batches');
  } finally {
    await session.release();
    await reference?.release();
  }
  for (const l of opts.layers) byInput.get(statisticsKey(l))?.layers.push(l.name);
  return byInput;
}

/** Index of the first NaN or ±Infinity in `a`, or -1. */
function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}

/**
 * The layers by statistics key (layers reading one tensor with one geometry share an entry).
 * @throws Error when two layers read one tensor but expect different input sizes
 */
export function statisticsKeys(layers: CalibratedLayer[]): Map<string, CalibratedLayer> {
  const keys = new Map<string, CalibratedLayer>();
  for (const l of layers) {
    const key = statisticsKey(l);
    const prev = keys.get(key);
    if (prev && prev.cols !== l.cols) {
      throw new Error(`layers ${prev.name} and ${l.name} read ${l.input} but expect ${prev.cols} and ${l.cols} input channels`);
    }
    keys.set(key, prev?.tokenSample && !l.tokenSample ? { ...l, tokenSample: true } : l);
  }
  return keys;
}

/**
 * Streams one batch of fetched layer inputs (`out`, by tensor name) into the accumulators of `keys`
 * (created on first use). float16 activations are widened to float32 first.
 */
export async function accumulateBatch(
  byInput: Map<string, InputStatistics>,
  keys: Map<string, CalibratedLayer>,
  out: Record<string, ort.Tensor>,
  threads: number,
  batch?: number,
): Promise<void> {
  for (const [key, { cols: n, name: layer, input, conv, convTranspose, tokenSample }] of keys) {
    const t = out[input];
    if (!t) throw new Error(`calibration: input ${input} of layer ${layer} was not computed`);
    if (t.type !== 'float32' && t.type !== 'float16')
      throw new Error(`calibration: input ${input} of layer ${layer} is ${t.type}; only float32 and float16 activations are supported`);
    const data = t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, halfToFloat) : (t.data as Float32Array);
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new Error(
        `calibration: input ${input} of layer ${layer} holds ${data[bad]} at element ${bad}${batch ? ` of batch ${batch}` : ''}; a weight or activation before this layer is not finite`,
      );
    }
    let s = byInput.get(key);
    if (!s) {
      s = {
        tensor: input,
        n,
        hessian: new Hessian(n),
        stats: new ChannelStats(n, Boolean(tokenSample) && !conv && !convTranspose),
        layers: [],
      };
      byInput.set(key, s);
    }
    if (conv) await addConv(s, data, t.dims, conv, layer, threads);
    else if (convTranspose) await addChannels(s, data, t.dims, convTranspose.group, layer, threads);
    else {
      const last = t.dims[t.dims.length - 1];
      if (last !== n || data.length % n !== 0) {
        throw new Error(`calibration: input ${input} of layer ${layer} has shape [${t.dims}], expected last dim ${n}`);
      }
      const tokens = data.length / n;
      await s.hessian.add(data, tokens, threads);
      s.stats.add(data, tokens, t.dims.length >= 3 ? t.dims[t.dims.length - 2] : tokens);
    }
  }
}

/**
 * Adds one batch to the cross statistics of `keys`' MatMul/Gemm inputs (Conv inputs have none): `fp`
 * from the float model, `out` from the quantized-prefix one (its Hessian already added this batch).
 */
export function accumulateCross(
  byInput: Map<string, InputStatistics>,
  keys: Map<string, CalibratedLayer>,
  fp: Record<string, ort.Tensor>,
  out: Record<string, ort.Tensor>,
  threads: number,
  batch: number,
): void {
  const f32 = (t: ort.Tensor) => (t.type === 'float16' ? Float32Array.from(t.data as Uint16Array, halfToFloat) : (t.data as Float32Array));
  for (const [key, { cols: n, name: layer, input, conv, convTranspose }] of keys) {
    if (conv || convTranspose) continue;
    const s = byInput.get(key)!;
    const a = fp[input],
      b = out[input];
    if (!a || a.data.length !== b.data.length)
      throw new Error(
        `calibration: input ${input} of layer ${layer} has shape [${a?.dims}] in the float model but [${b.dims}] with the quantized prefix (batch ${batch})`,
      );
    const x = f32(a);
    const bad = firstNonFinite(x);
    if (bad >= 0)
      throw new Error(
        `calibration: input ${input} of layer ${layer} holds ${x[bad]} at element ${bad} of batch ${batch} in the float model`,
      );
    s.cross ??= new CrossStatistic(n);
    s.cross.add(x, f32(b), x.length / n, threads);
  }
}

/** Streams one NCHW activation of a Conv layer through im2col into its Hessian and channel statistics. */
async function addConv(
  s: InputStatistics,
  x: Float32Array,
  dims: readonly number[],
  conv: ConvSpec,
  layer: string,
  threads: number,
): Promise<void> {
  if (dims.length !== 4)
    throw new Error(
      `calibration: input ${s.tensor} of Conv layer ${layer} has shape [${dims}]; only 2-D (NCHW) convolutions are calibrated`,
    );
  const geometry = convGeometryFromAttributes(conv.node, conv.attributes, conv.kernelDims, { h: dims[2], w: dims[3] });
  const cols = (dims[1] / (geometry.group ?? 1)) * geometry.kernel[0] * geometry.kernel[1];
  if (cols !== s.n)
    throw new Error(
      `calibration: input ${s.tensor} [${dims}] of Conv layer ${layer} gives im2col rows of ${cols}, but the weight has ${s.n} columns`,
    );
  await addRows(s, threads, (targets) => addConvActivation(targets, x, dims, geometry));
}

/** Streams one [n, c, spatial…] activation of a ConvTranspose layer (per-pixel channel rows, per group) into its statistics. */
async function addChannels(
  s: InputStatistics,
  x: Float32Array,
  dims: readonly number[],
  group: number,
  layer: string,
  threads: number,
): Promise<void> {
  if (dims.length < 3 || dims[1] !== s.n * group)
    throw new Error(
      `calibration: input ${s.tensor} [${dims}] of ConvTranspose layer ${layer} does not have ${s.n}·${group} channels on axis 1`,
    );
  await addRows(s, threads, (targets) => addChannelActivation(targets, x, dims, group));
}

/** Runs `feed` on the statistics' accumulators (Hessian + channel stats), then awaits the native Hessian updates it started. */
async function addRows(s: InputStatistics, threads: number, feed: (targets: RowAccumulator[]) => void): Promise<void> {
  const pending: Promise<void>[] = [];
  const hessian = { add: (rows: Float32Array, count: number) => pending.push(s.hessian.add(rows, count, threads)) };
  feed([hessian, s.stats]);
  await Promise.all(pending);
}
