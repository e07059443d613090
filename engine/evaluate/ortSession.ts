import * as ort from 'onnxruntime-node';
import { bindInputs, type InputBinding, type InputOverride } from '../../recipe/inputBinding';
import { sessionInputs, tokenFeeds } from '../data/inputFeeds';
import { halfToFloat } from '../onnx/tensor';

/**
 * Opens an onnxruntime-node session on a model file or bytes with the engine's options:
 * `threads` intra-op threads (0 = ORT default) and, unless `accuracyLevel` says otherwise, exact QDQ int4
 * MatMul (no int8-activation fusion). `accuracyLevel`: the MatMulNBits accuracy level onnxruntime
 * uses when it fuses QDQ weights into MatMulNBits — pass the recipe's level to evaluate a compressed
 * model as it will run (MatMulNBits nodes carry their own level as an attribute).
 * `externalDataDir` (bytes only): the folder onnxruntime resolves the bytes' external-data locations
 * from — the source model's folder, so weights kept as references load in place (no inlined copy).
 * @throws Error naming `label` when the model cannot be loaded.
 */
export async function openSession(
  model: string | Uint8Array,
  threads: number,
  label: string,
  externalDataDir?: string,
  accuracyLevel = 0,
): Promise<ort.InferenceSession> {
  const session: Record<string, string> = { qdq_matmulnbits_accuracy_level: String(accuracyLevel) };
  if (externalDataDir !== undefined && typeof model !== 'string') session.model_external_initializers_file_folder_path = externalDataDir;
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', extra: { session } };
  if (threads > 0) options.intraOpNumThreads = threads;
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  } catch (e) {
    throw new Error(`${label}: onnxruntime cannot load the model: ${(e as Error).message}`);
  }
}

const bound = new WeakMap<ort.InferenceSession, { key: string; bindings: InputBinding[] }>();

/** The session's input bindings (the rule table + `overrides`), computed once per session. */
export function sessionBindings(session: ort.InferenceSession, label: string, overrides?: Record<string, InputOverride>): InputBinding[] {
  const key = JSON.stringify(overrides ?? {});
  const hit = bound.get(session);
  if (hit && hit.key === key) return hit.bindings;
  const bindings = bindInputs({ path: label, inputs: sessionInputs(session) }, overrides);
  bound.set(session, { key, bindings });
  return bindings;
}

/**
 * Runs a token model on one [batch, seq] int64 batch, feeding every other input by the binding
 * rules (recipe/inputBinding.ts); returns `logits` (or the first output) as float32.
 */
export async function runTokens(
  session: ort.InferenceSession,
  ids: BigInt64Array,
  batch: number,
  seq: number,
  outputName?: string,
  inputs?: Record<string, InputOverride>,
  label = 'model',
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const feeds = tokenFeeds(sessionBindings(session, label, inputs), ids, batch, seq, label);
  const name = outputName ?? (session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]);
  const out = await session.run(feeds, [name]);
  const t = out[name];
  if (t.type === 'float16') return { data: Float32Array.from(t.data as Uint16Array, halfToFloat), dims: t.dims };
  if (t.type !== 'float32') throw new Error(`${label}: output ${name} is ${t.type}, expected float32 or float16 logits`);
  return { data: t.data as Float32Array, dims: t.dims };
}
