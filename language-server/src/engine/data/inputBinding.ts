/**
 * Input binding: how a token model's graph inputs are fed from token windows. One rule table, by
 * input name, dtype and shape, covers the exports people ship (optimum / torch.onnx decoders with a
 * KV cache, onnxruntime-genai model-builder decoders with GroupQueryAttention, BERT-style encoders);
 * the recipe's `inputs:` section overrides it per input with a rule name or a constant.
 *
 * | rule                    | binds (name; dtype; rank)                                              | value for a [B, T] token batch        |
 * |-------------------------|-------------------------------------------------------------------------|---------------------------------------|
 * | `token_ids`             | `input_ids`, `ids`, `tokens`, `*input_ids`; or the only integer input    | the tokens, [B, T]                    |
 * | `attention_mask`        | `attention_mask`, `*_mask`; integer or bool; rank 2                      | all ones, [B, past + T] (past = 0)    |
 * | `positions`             | `position_ids`, `positions`; integer; rank 1–2                           | 0..T−1 per row, [B, T]                |
 * | `empty_past`            | `past_key_values.*`, `past.*`, `*past_key*`, `*past_value*`, `cache.*`   | zeros, the one symbolic non-batch axis = 0 (the cache's own dtype) |
 * | `seqlens_k`             | `seqlens_k`; int32; rank 1                                              | T − 1 per row, [B]                    |
 * | `total_sequence_length` | `total_sequence_length`; int32; rank 0–1                                | T                                     |
 * | `zeros`                 | `token_type_ids`, `segment_ids`; integer                                | zeros, [B, T]                         |
 * | `use_cache_branch`      | `use_cache_branch`; bool                                                | false (optimum merged decoders, no past) |
 * | a number                | any input (recipe only)                                                 | that value everywhere: static dims as declared, symbolic axis 0 = B, other symbolic axes = T |
 *
 * An input no rule binds is an error naming it and how to set it in the recipe.
 */
import * as ort from 'onnxruntime-node';
import type { ModelSummary } from '../../protocol/model';
import { INPUT_RULES, type InputOverride, type InputRule } from '../../protocol/plan';

export { INPUT_RULES, type InputOverride, type InputRule };

type ModelInput = ModelSummary['inputs'][number];

export interface InputBinding { input: ModelInput; rule: InputRule | { value: number }; source: 'rule table' | 'recipe' }

const INTEGER = new Set(['int64', 'int32']);

/** The default rule for one input, or undefined when none applies. */
export function defaultRule(input: ModelInput, inputs: readonly ModelInput[]): InputRule | undefined {
  const n = input.name, rank = input.dims.length, int = INTEGER.has(input.dtype);
  if (/^(past_key_values|past|cache)[._]|past_key|past_value/i.test(n) && (input.dtype === 'float32' || input.dtype === 'float16')) return 'empty_past';
  if (int && /^(input_ids|ids|tokens)$|input_ids$/i.test(n)) return 'token_ids';
  if (n === 'seqlens_k' && input.dtype === 'int32' && rank === 1) return 'seqlens_k';
  if (n === 'total_sequence_length' && input.dtype === 'int32' && rank <= 1) return 'total_sequence_length';
  if ((int || input.dtype === 'bool') && rank === 2 && /(^|_)mask$/i.test(n)) return 'attention_mask';
  if (int && rank >= 1 && rank <= 2 && /^(position_ids|positions)$/i.test(n)) return 'positions';
  if (int && /^(token_type_ids|segment_ids)$/i.test(n)) return 'zeros';
  if (n === 'use_cache_branch' && input.dtype === 'bool') return 'use_cache_branch';
  if (int && inputs.filter((i) => INTEGER.has(i.dtype)).length === 1) return 'token_ids';
  return undefined;
}

/** Raised when a model input cannot be fed; names the input and how to set it. */
export class InputBindingError extends Error {}

/**
 * Binds every graph input of `summary` (the rule table, then `overrides` from the recipe).
 * @throws InputBindingError naming the model and the first input that nothing binds, or an override
 * naming an input the model does not have; exactly one input must carry the tokens.
 */
export function bindInputs(summary: Pick<ModelSummary, 'path' | 'inputs'>, overrides: Record<string, InputOverride> = {}): InputBinding[] {
  const names = new Set(summary.inputs.map((i) => i.name));
  for (const k of Object.keys(overrides))
    if (!names.has(k)) throw new InputBindingError(`${summary.path}: the recipe's inputs: names '${k}', which is not an input of the model (inputs: ${[...names].join(', ')})`);
  const out = summary.inputs.map((input): InputBinding => {
    const o = overrides[input.name];
    if (o !== undefined) return { input, rule: typeof o === 'number' ? { value: o } : o, source: 'recipe' };
    const rule = defaultRule(input, summary.inputs);
    if (!rule)
      throw new InputBindingError(`${summary.path}: cannot bind model input '${input.name}' (${input.dtype} [${input.dims.join(', ')}]): no rule of the input table matches it; set it in the recipe, e.g. \`inputs: { ${input.name}: 0 }\` for a constant or one of ${INPUT_RULES.join(', ')}`);
    return { input, rule, source: 'rule table' };
  });
  const tokens = out.filter((b) => b.rule === 'token_ids');
  if (tokens.length !== 1)
    throw new InputBindingError(`${summary.path}: ${tokens.length ? `${tokens.length} inputs (${tokens.map((b) => b.input.name).join(', ')}) are` : 'no input is'} bound to the tokens; set exactly one in the recipe with \`inputs: { <name>: token_ids }\``);
  return out;
}

/** The name of the input that carries the token ids. */
export function tokenInputName(bindings: readonly InputBinding[]): string {
  return bindings.find((b) => b.rule === 'token_ids')!.input.name;
}

function typedFill(dtype: string, n: number, v: number): ort.Tensor['data'] {
  switch (dtype) {
    case 'int64': return new BigInt64Array(n).fill(BigInt(Math.trunc(v)));
    case 'int32': return new Int32Array(n).fill(v);
    case 'bool': return new Uint8Array(n).fill(v ? 1 : 0);
    case 'float16': return new Uint16Array(n).fill(v === 0 ? 0 : halfBits(v));
    case 'float32': return new Float32Array(n).fill(v);
    default: throw new InputBindingError(`input dtype ${dtype} cannot be filled with a constant`);
  }
}

function halfBits(v: number): number {
  const f = new Float32Array([v]), u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000, exp = ((u >>> 23) & 0xff) - 127 + 15, mant = (u >>> 13) & 0x3ff;
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
    throw new InputBindingError(`${path}: cache input '${b.input.name}' has ${symbolic.length} symbolic axes after the batch axis ([${d.join(', ')}]); cannot tell which is the past length — set it in the recipe's inputs:`);
  return d.map((x, i) => (i === 0 ? batch : typeof x === 'number' && x >= 0 ? x : 0));
}

/** Feeds for one [batch, seq] window batch of token ids. */
export function tokenFeeds(bindings: readonly InputBinding[], ids: BigInt64Array, batch: number, seq: number, path = 'model'): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const b of bindings) {
    const { name, dtype, dims } = b.input;
    const r = b.rule;
    if (typeof r === 'object') {
      const shape = dims.map((x, i) => (typeof x === 'number' && x >= 0 ? x : i === 0 ? batch : seq));
      feeds[name] = tensor(dtype, typedFill(dtype, shape.reduce((a, c) => a * c, 1), r.value), shape);
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
        feeds[name] = tensor(dtype, data, dims.length === 1 ? [seq] : [batch, seq]);
        if (dims.length === 1) feeds[name] = tensor(dtype, data.slice(0, seq), [seq]);
        break;
      }
      case 'empty_past': {
        const shape = pastDims(b, batch, path);
        feeds[name] = tensor(dtype, typedFill(dtype, shape.reduce((a, c) => a * c, 1), 0), shape);
        break;
      }
      case 'seqlens_k': feeds[name] = tensor('int32', new Int32Array(batch).fill(seq - 1), [batch]); break;
      case 'total_sequence_length': feeds[name] = tensor('int32', new Int32Array([seq]), dims.length ? [1] : []); break;
      case 'zeros': feeds[name] = tensor(dtype, typedFill(dtype, batch * seq, 0), [batch, seq]); break;
      case 'use_cache_branch': feeds[name] = tensor('bool', new Uint8Array(dims.length ? 1 : 1), dims.length ? [1] : []); break;
    }
  }
  return feeds;
}

/** A session's graph inputs in the summary's shape (name, dtype, dims). */
export function sessionInputs(session: ort.InferenceSession): ModelInput[] {
  const meta = session.inputMetadata as readonly { name: string; isTensor: boolean; type?: string; shape?: readonly (number | string)[] }[];
  return meta.map((m) => ({ name: m.name, dtype: m.isTensor ? String(m.type) : 'non-tensor', dims: [...(m.shape ?? [])] }));
}
