/**
 * Feeds for token windows from input bindings (recipe/inputBinding.ts holds the rule table).
 */
import * as ort from 'onnxruntime-node';
import { InputBindingError, type InputBinding, type ModelInput } from '../../recipe/inputBinding';

function typedFill(dtype: string, n: number, v: number): ort.Tensor['data'] {
  switch (dtype) {
    case 'int64':
      return new BigInt64Array(n).fill(BigInt(Math.trunc(v)));
    case 'int32':
      return new Int32Array(n).fill(v);
    case 'bool':
      return new Uint8Array(n).fill(v ? 1 : 0);
    case 'float16':
      return new Uint16Array(n).fill(v === 0 ? 0 : halfBits(v));
    case 'float32':
      return new Float32Array(n).fill(v);
    default:
      throw new InputBindingError(`input dtype ${dtype} cannot be filled with a constant`);
  }
}

function halfBits(v: number): number {
  const f = new Float32Array([v]),
    u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000,
    exp = ((u >>> 23) & 0xff) - 127 + 15,
    mant = (u >>> 13) & 0x3ff;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  return sign | (exp << 10) | mant;
}

function tensor(dtype: string, data: ort.Tensor['data'], dims: number[]): ort.Tensor {
  return new ort.Tensor(dtype as 'float32', data as Float32Array, dims);
}

/** The empty-cache shape: batch on axis 0, the one other symbolic axis 0, static axes as declared. */
function pastDims(b: InputBinding, batch: number, path: string): number[] {
  const d = b.input.dims;
  const symbolic = d.map((x, i) => (typeof x === 'number' && x >= 0 ? -1 : i)).filter((i) => i > 0);
  if (symbolic.length > 1)
    throw new InputBindingError(
      `${path}: cache input '${b.input.name}' has ${symbolic.length} symbolic axes after the batch axis ([${d.join(', ')}]); cannot tell which is the past length — set it in the recipe's inputs:`,
    );
  return d.map((x, i) => (i === 0 ? batch : typeof x === 'number' && x >= 0 ? x : 0));
}

/** Feeds for one [batch, seq] window batch of token ids. */
export function tokenFeeds(
  bindings: readonly InputBinding[],
  ids: BigInt64Array,
  batch: number,
  seq: number,
  path = 'model',
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const b of bindings) {
    const { name, dtype, dims } = b.input;
    const r = b.rule;
    if (typeof r === 'object') {
      const shape = dims.map((x, i) => (typeof x === 'number' && x >= 0 ? x : i === 0 ? batch : seq));
      feeds[name] = tensor(
        dtype,
        typedFill(
          dtype,
          shape.reduce((a, c) => a * c, 1),
          r.value,
        ),
        shape,
      );
      continue;
    }
    switch (r) {
      case 'token_ids':
        feeds[name] = dtype === 'int32' ? tensor('int32', Int32Array.from(ids, Number), [batch, seq]) : tensor('int64', ids, [batch, seq]);
        break;
      case 'attention_mask':
        feeds[name] = tensor(dtype, typedFill(dtype, batch * seq, 1), [batch, seq]);
        break;
      case 'positions': {
        const data = dtype === 'int32' ? new Int32Array(batch * seq) : new BigInt64Array(batch * seq);
        for (let s = 0; s < batch; s++) for (let t = 0; t < seq; t++) data[s * seq + t] = (dtype === 'int32' ? t : BigInt(t)) as never;
        // rank 1: one row of positions shared by the batch
        feeds[name] = dims.length === 1 ? tensor(dtype, data.slice(0, seq), [seq]) : tensor(dtype, data, [batch, seq]);
        break;
      }
      case 'empty_past': {
        const shape = pastDims(b, batch, path);
        feeds[name] = tensor(
          dtype,
          typedFill(
            dtype,
            shape.reduce((a, c) => a * c, 1),
            0,
          ),
          shape,
        );
        break;
      }
      case 'seqlens_k':
        feeds[name] = tensor('int32', new Int32Array(batch).fill(seq - 1), [batch]);
        break;
      case 'total_sequence_length':
        feeds[name] = tensor('int32', new Int32Array([seq]), dims.length ? [1] : []);
        break;
      case 'zeros':
        feeds[name] = tensor(dtype, typedFill(dtype, batch * seq, 0), [batch, seq]);
        break;
      case 'use_cache_branch':
        feeds[name] = tensor('bool', new Uint8Array(1), dims.length ? [1] : []);
        break;
    }
  }
  return feeds;
}

/** A session's graph inputs in the summary's shape (name, dtype, dims). */
export function sessionInputs(session: ort.InferenceSession): ModelInput[] {
  const meta = session.inputMetadata as readonly { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] }[];
  return meta.map((m) => ({ name: m.name, dtype: m.isTensor ? String(m.type) : 'non-tensor', dims: [...(m.shape ?? [])] }));
}
