/**
 * Calibration ("parallel" mode): run the FP model once over the calibration batches with every distinct
 * layer-input tensor added as a graph output, and stream each fetched tensor into that input's
 * accumulators — a native Hessian (H = 2XXᵀ/N, GPTQ convention) and per-channel |x| statistics.
 * Layers reading the same tensor share one accumulator. Only one batch of activations is alive at a
 * time; memory is O(Σ n²) for the Hessians, independent of the number of calibration tokens.
 */
import type * as ort from 'onnxruntime-node';
import { Hessian } from '../../../../native/ts/index';
import { openSession } from '../evaluate/ortSession';
import { ChannelStats } from './channelStats';

/** Accumulated statistics of one layer-input tensor. */
export interface InputStatistics {
  tensor: string;
  /** Channels (the last dim of the tensor = the layer's `in`). */
  n: number;
  hessian: Hessian;
  stats: ChannelStats;
  /** Layers that read this tensor. */
  layers: string[];
}

/** One calibration batch: the model's feeds. */
export type Feeds = Record<string, ort.Tensor>;

/** What calibration needs from the loaded model. */
export interface CalibrationModel {
  /** The model bytes with the given tensors added as graph outputs. */
  withExtraOutputs(names: string[]): Uint8Array;
}

/**
 * Runs calibration and returns statistics keyed by input tensor name.
 * @param layers each quantized layer with the tensor it reads and its `in` size
 * @throws Error naming the tensor and layer when a fetched activation does not match the weight's `in`
 */
export async function calibrate(opts: {
  model: CalibrationModel;
  layers: { name: string; input: string; cols: number }[];
  batches: Feeds[] | (() => AsyncIterable<Feeds>);
  threads: number;
  signal?: AbortSignal;
  onBatch?: (done: number, total: number | undefined) => void;
}): Promise<Map<string, InputStatistics>> {
  const byInput = new Map<string, InputStatistics>();
  const cols = new Map<string, { n: number; layer: string }>();
  for (const l of opts.layers) {
    const prev = cols.get(l.input);
    if (prev && prev.n !== l.cols) {
      throw new Error(`layers ${prev.layer} and ${l.name} read ${l.input} but expect ${prev.n} and ${l.cols} input channels`);
    }
    cols.set(l.input, { n: l.cols, layer: l.name });
  }
  const names = [...cols.keys()];
  if (!names.length) return byInput;
  const session = await openSession(opts.model.withExtraOutputs(names), opts.threads, 'calibration model');
  try {
    const batches = Array.isArray(opts.batches) ? opts.batches : undefined;
    const iterable: AsyncIterable<Feeds> | Feeds[] = batches ?? (opts.batches as () => AsyncIterable<Feeds>)();
    let done = 0;
    for await (const feeds of iterable) {
      opts.signal?.throwIfAborted();
      const out = await session.run(feeds, names);
      for (const name of names) {
        const t = out[name];
        const { n, layer } = cols.get(name)!;
        if (t.type !== 'float32') throw new Error(`calibration: input ${name} of layer ${layer} is ${t.type}; only float32 activations are supported`);
        const data = t.data as Float32Array;
        const last = t.dims[t.dims.length - 1];
        if (last !== n || data.length % n !== 0) {
          throw new Error(`calibration: input ${name} of layer ${layer} has shape [${t.dims}], expected last dim ${n}`);
        }
        const tokens = data.length / n;
        let s = byInput.get(name);
        if (!s) {
          s = { tensor: name, n, hessian: new Hessian(n), stats: new ChannelStats(n), layers: [] };
          byInput.set(name, s);
        }
        await s.hessian.add(data, tokens, opts.threads);
        s.stats.add(data, tokens);
      }
      done++;
      opts.onBatch?.(done, batches?.length);
    }
    if (!done) throw new Error('calibration: no batches');
  } finally {
    await session.release();
  }
  for (const l of opts.layers) byInput.get(l.input)?.layers.push(l.name);
  return byInput;
}
