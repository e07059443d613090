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
 * An input no rule binds is an error naming it and how to set it in the recipe. The feeds themselves
 * are built by engine/data/inputFeeds.ts (this file has no onnxruntime dependency: the recipe checks use it).
 */
import type { ModelSummary } from '../protocol/model';
import { INPUT_RULES, type InputOverride, type InputRule } from '../protocol/plan';

export { INPUT_RULES, type InputOverride, type InputRule };

export type ModelInput = ModelSummary['inputs'][number];

export interface InputBinding {
  input: ModelInput;
  rule: InputRule | { value: number };
  source: 'rule table' | 'recipe';
}

const INTEGER = new Set(['int64', 'int32']);

/** The default rule for one input, or undefined when none applies. */
export function defaultRule(input: ModelInput, inputs: readonly ModelInput[]): InputRule | undefined {
  const n = input.name,
    rank = input.dims.length,
    int = INTEGER.has(input.dtype);
  if (/^(past_key_values|past|cache)[._]|past_key|past_value/i.test(n) && (input.dtype === 'float32' || input.dtype === 'float16'))
    return 'empty_past';
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
    if (!names.has(k))
      throw new InputBindingError(
        `${summary.path}: the recipe's inputs: names '${k}', which is not an input of the model (inputs: ${[...names].join(', ')})`,
      );
  const out = summary.inputs.map((input): InputBinding => {
    const o = overrides[input.name];
    if (o !== undefined) return { input, rule: typeof o === 'number' ? { value: o } : o, source: 'recipe' };
    const rule = defaultRule(input, summary.inputs);
    if (!rule)
      throw new InputBindingError(
        `${summary.path}: cannot bind model input '${input.name}' (${input.dtype} [${input.dims.join(', ')}]): no rule of the input table matches it; set it in the recipe, e.g. \`inputs: { ${input.name}: 0 }\` for a constant or one of ${INPUT_RULES.join(', ')}`,
      );
    return { input, rule, source: 'rule table' };
  });
  const tokens = out.filter((b) => b.rule === 'token_ids');
  if (tokens.length !== 1)
    throw new InputBindingError(
      `${summary.path}: ${tokens.length ? `${tokens.length} inputs (${tokens.map((b) => b.input.name).join(', ')}) are` : 'no input is'} bound to the tokens; set exactly one in the recipe with \`inputs: { <name>: token_ids }\``,
    );
  return out;
}

/** The name of the input that carries the token ids. */
export function tokenInputName(bindings: readonly InputBinding[]): string {
  return bindings.find((b) => b.rule === 'token_ids')!.input.name;
}
