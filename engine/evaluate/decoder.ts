/**
 * Token-by-token decoding of a language model in onnxruntime, batch 1: through its KV cache when the
 * graph has one (`past…` inputs fed from the matching `present…` outputs), else by re-running the
 * whole sequence for every new token (`full_sequence`, e.g. the bare stories260K graph).
 *
 * Inputs are bound by the one input rule table (`data/inputBinding.ts`, with the recipe's `inputs:`
 * overrides), extended over a cache of `past` tokens: token ids are the new tokens, the attention mask
 * is all ones over past + new, positions run past..past+t−1, `seqlens_k` = total − 1,
 * `total_sequence_length` = total, `use_cache_branch` is true once a cache is fed, and `empty_past`
 * inputs start empty (length 0, the cache's own dtype) and then carry the previous step's `present…`.
 * An input the table cannot bind is an error naming it and how to set it.
 */
import * as ort from 'onnxruntime-node';
import { halfToFloat } from '../onnx/tensor';
import { bindInputs, type InputBinding, type InputOverride } from '../../recipe/inputBinding';
import { sessionInputs } from '../data/inputFeeds';

export type DecodeMode = 'kv_cache' | 'full_sequence';

/** One cache tensor: the `past` input, the `present` output that feeds it, and its layout. */
interface CacheSlot {
  input: string;
  output: string;
  type: 'float32' | 'float16';
  /** Dims with the sequence axis at `seqAxis` (its value unused) and batch = 1. */
  dims: number[];
  seqAxis: number;
}

type Meta = ort.InferenceSession.ValueMetadata;
const tensorMeta = (m: Meta): { type: string; shape: readonly (number | string)[] } | undefined =>
  m.isTensor ? (m as unknown as { type: string; shape: readonly (number | string)[] }) : undefined;

/** The `present` output names that may feed a `past` input, in the order tried. */
export function presentCandidates(pastName: string): string[] {
  const out: string[] = [];
  for (const prefix of ['past_key_values', 'past']) if (pastName.startsWith(prefix)) out.push(`present${pastName.slice(prefix.length)}`);
  return out;
}

/** The cache layout of one `past` input from its metadata; the sequence axis is the named `past`/`seq` dim (else axis 2). */
function cacheSlot(m: Meta, outputs: readonly string[], label: string): CacheSlot {
  const t = tensorMeta(m);
  if (!t || (t.type !== 'float32' && t.type !== 'float16'))
    throw new Error(`${label}: cache input '${m.name}' is ${t?.type ?? 'not a tensor'}; a KV cache must be float32 or float16`);
  const output = presentCandidates(m.name).find((o) => outputs.includes(o));
  if (!output)
    throw new Error(
      `${label}: cache input '${m.name}' has no matching output (looked for ${
        presentCandidates(m.name)
          .map((n) => `'${n}'`)
          .join(', ') || "a 'present…' name"
      }); the cache cannot be carried between steps`,
    );
  const shape = t.shape;
  const symbolic = shape.map((d, i) => (typeof d === 'number' && d >= 0 ? -1 : i)).filter((i) => i > 0);
  let seqAxis =
    symbolic.length === 1 ? symbolic[0] : shape.findIndex((d, i) => i > 0 && typeof d === 'string' && /past|seq|len|total/i.test(d));
  if (seqAxis < 0) seqAxis = shape.length === 4 ? 2 : -1;
  if (seqAxis < 0) throw new Error(`${label}: cache input '${m.name}' has shape [${shape.join(', ')}]; cannot tell its sequence axis`);
  const dims = shape.map((d, i) => {
    if (i === seqAxis) return 0;
    if (typeof d === 'number' && d >= 0) return i === 0 ? 1 : d;
    if (i === 0) return 1;
    throw new Error(`${label}: cache input '${m.name}' has a symbolic dim '${String(d)}' at axis ${i}; its size must be fixed`);
  });
  return { input: m.name, output, type: t.type, dims, seqAxis };
}

const int = (type: string, values: number[], dims: number[]): ort.Tensor =>
  type === 'int32'
    ? new ort.Tensor('int32', Int32Array.from(values), dims)
    : new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);

/** Float32 copy of one position's logits (float16 logits widened). */
function logitsRow(t: ort.Tensor, position: number, label: string): Float32Array {
  const vocab = Number(t.dims[t.dims.length - 1]);
  const start = position * vocab;
  if (t.type === 'float32') return (t.data as Float32Array).slice(start, start + vocab);
  if (t.type === 'float16') {
    const h = t.data as Uint16Array,
      out = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) out[i] = halfToFloat(h[start + i]);
    return out;
  }
  throw new Error(`${label}: logits are ${t.type}, expected float32 or float16`);
}

/** Greedy choice: the index of the largest logit (the first on ties). */
export function argmaxRow(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** A decoding loop over one session; `prefill` starts a sequence, `step` extends it by one token. */
export class Decoder {
  readonly mode: DecodeMode;
  private readonly cache: CacheSlot[];
  private readonly logits: string;
  private tokens: number[] = [];
  private past = new Map<string, ort.Tensor>();

  private readonly bindings: InputBinding[];

  /** `inputs`: the recipe's `inputs:` overrides of the rule table. */
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly label: string,
    inputs: Record<string, InputOverride> = {},
  ) {
    const outputs = session.outputNames;
    this.bindings = bindInputs({ path: label, inputs: sessionInputs(session) }, inputs);
    const cacheNames = new Set(this.bindings.filter((b) => b.rule === 'empty_past').map((b) => b.input.name));
    this.cache = session.inputMetadata.filter((m) => cacheNames.has(m.name)).map((m) => cacheSlot(m, outputs, label));
    this.mode = this.cache.length ? 'kv_cache' : 'full_sequence';
    this.logits = outputs.includes('logits') ? 'logits' : (outputs.find((o) => !o.startsWith('present')) ?? outputs[0]);
  }

  /** Starts a new sequence with `ids`; returns the logits of its last position. */
  async prefill(ids: readonly number[]): Promise<Float32Array> {
    if (!ids.length) throw new Error(`${this.label}: an empty prompt cannot be decoded`);
    this.tokens = [];
    this.past.clear();
    return this.run(ids);
  }

  /** Appends one token; returns the logits for the position after it. */
  step(token: number): Promise<Float32Array> {
    if (!this.tokens.length) throw new Error(`${this.label}: step() before prefill()`);
    return this.run([token]);
  }

  private async run(fresh: readonly number[]): Promise<Float32Array> {
    const cached = this.mode === 'kv_cache';
    const pastLen = cached ? this.tokens.length : 0;
    const feed = cached ? fresh : [...this.tokens, ...fresh];
    const feeds: Record<string, ort.Tensor> = {};
    for (const b of this.bindings) if (b.rule !== 'empty_past') feeds[b.input.name] = this.bindOne(b, feed, pastLen);
    for (const c of this.cache) {
      const prev = this.past.get(c.input);
      if (prev) {
        feeds[c.input] = prev;
        continue;
      }
      feeds[c.input] = new ort.Tensor(c.type, c.type === 'float16' ? new Uint16Array(0) : new Float32Array(0), c.dims);
    }
    const fetches = [this.logits, ...this.cache.map((c) => c.output)];
    const out = await this.session.run(feeds, fetches);
    for (const c of this.cache) this.past.set(c.input, out[c.output]);
    this.tokens.push(...fresh);
    const l = out[this.logits];
    const positions = l.dims.length === 3 ? Number(l.dims[1]) : 1;
    return logitsRow(l, positions - 1, this.label);
  }

  /** The tensor for one non-cache input; `ids` are the tokens fed this run, after `pastLen` cached ones. */
  private bindOne(b: InputBinding, ids: readonly number[], pastLen: number): ort.Tensor {
    const { dtype, dims } = b.input;
    const n = ids.length,
      total = pastLen + n;
    const r = b.rule;
    if (typeof r === 'object') {
      const shape = dims.map((x, i) => (typeof x === 'number' && x >= 0 ? x : i === 0 ? 1 : n));
      return fill(dtype, shape, r.value);
    }
    switch (r) {
      case 'token_ids':
        return int(dtype, [...ids], [1, n]);
      case 'attention_mask':
        return dtype === 'bool' ? fill('bool', [1, total], 1) : int(dtype, new Array<number>(total).fill(1), [1, total]);
      case 'positions':
        return int(
          dtype,
          Array.from({ length: n }, (_, i) => pastLen + i),
          dims.length === 1 ? [n] : [1, n],
        );
      case 'seqlens_k':
        return int('int32', [total - 1], [1]);
      case 'total_sequence_length':
        return int('int32', [total], dims.length ? [1] : []);
      case 'zeros':
        return int(dtype, new Array<number>(n).fill(0), [1, n]);
      case 'use_cache_branch':
        return new ort.Tensor('bool', Uint8Array.of(pastLen > 0 ? 1 : 0), dims.length ? [1] : []);
      case 'empty_past':
        throw new Error(`${this.label}: cache input '${b.input.name}' is fed from the cache`);
    }
  }
}

/** A constant tensor (recipe `inputs:` values). */
function fill(dtype: string, dims: number[], v: number): ort.Tensor {
  const n = dims.reduce((a, c) => a * c, 1);
  switch (dtype) {
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(Math.trunc(v))), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(n).fill(v), dims);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(n).fill(v ? 1 : 0), dims);
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(n).fill(v), dims);
    default:
      throw new Error(`input dtype ${dtype} cannot be filled with a constant`);
  }
}

/** Greedy generation of `tokens` new ids after `prompt`. */
export async function greedy(decoder: Decoder, prompt: readonly number[], tokens: number, signal?: AbortSignal): Promise<number[]> {
  const out: number[] = [];
  let row = await decoder.prefill(prompt);
  for (let i = 0; i < tokens; i++) {
    signal?.throwIfAborted();
    const next = argmaxRow(row);
    out.push(next);
    if (i + 1 < tokens) row = await decoder.step(next);
  }
  return out;
}
