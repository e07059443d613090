import * as ort from 'onnxruntime-node';

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
export async function openSession(model: string | Uint8Array, threads: number, label: string, externalDataDir?: string, accuracyLevel = 0): Promise<ort.InferenceSession> {
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

/** Runs a token-id model on one [batch, seq] int64 batch; returns the first output's data and dims. */
export async function runTokens(
  session: ort.InferenceSession, ids: BigInt64Array, batch: number, seq: number, outputName?: string,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const input = new ort.Tensor('int64', ids, [batch, seq]);
  const name = outputName ?? session.outputNames[0];
  const out = await session.run({ [session.inputNames[0]]: input }, [name]);
  const t = out[name];
  if (t.type !== 'float32') throw new Error(`output ${name} is ${t.type}, expected float32 logits`);
  return { data: t.data as Float32Array, dims: t.dims };
}
