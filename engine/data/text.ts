/**
 * Text data for language models: a text file becomes one token stream, cut into fixed-length windows.
 *
 * Conventions (they match the stories260K reference numbers):
 * - The file is split into lines; each non-empty line is one document, encoded on its own with the
 *   tokenizer's template (Llama: BOS `<s>` + text), and the ids are concatenated in file order.
 *   Lines are split on '\n' only and kept verbatim (a CRLF file's '\r' stays, as a byte token).
 *   Windows themselves get no extra BOS. This is the only variant we found that reproduces the
 *   stories260K reference (6.35): we measure 6.37 on the first 16×256 tokens; stripping '\r' gives
 *   5.44, and dropping the per-line BOS gives 6.50.
 * - Windows are consecutive and non-overlapping: window k covers tokens
 *   [offset + k·L, offset + (k+1)·L) of the stream, where L is the sequence length.
 * - `offset` is in tokens. Calibration and evaluation take separate parts of the stream by using
 *   different offsets (see `resolveTextOffsets`). Everything is deterministic: no shuffling.
 */
import { readFile } from 'node:fs/promises';
import { loadTokenizer } from './tokenizer';
import type { ModelSummary } from '../../protocol/model';

/** Token windows ready for a model whose input is int64 [batch, seq]. */
export interface TextWindows {
  /** Row-major [count, sequenceLength] token ids. */
  ids: BigInt64Array;
  count: number;
  sequenceLength: number;
  /** Token offset of the first window in the file's token stream. */
  offset: number;
  /** Total tokens in the file's stream. */
  streamTokens: number;
}

const streams = new Map<string, Promise<number[]>>();

/**
 * The whole token stream of a text file (cached per file + tokenizer).
 * @throws Error naming the file when it cannot be read.
 */
export function tokenStream(textPath: string, tokenizerPath: string): Promise<number[]> {
  const key = `${textPath}\0${tokenizerPath}`;
  let p = streams.get(key);
  if (!p) {
    p = (async () => {
      const tok = await loadTokenizer(tokenizerPath);
      let bytes: Buffer;
      try {
        bytes = await readFile(textPath);
      } catch (e) {
        throw new Error(`${textPath}: cannot read text: ${(e as Error).message}`);
      }
      const text = decodeUtf8(bytes, textPath);
      const ids: number[] = [];
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        for (const id of tok.encode(line)) ids.push(id);
      }
      if (!ids.length) throw new Error(`${textPath}: no text to tokenize`);
      return ids;
    })();
    streams.set(key, p);
    p.catch(() => streams.delete(key));
  }
  return p;
}

/**
 * UTF-8 text, strictly: bytes that are not UTF-8 are an error naming the file, line and byte (they
 * would otherwise become replacement characters and silently change the tokens).
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    throw new Error(
      `${file}: not UTF-8 text (invalid byte 0x${bytes[bad]?.toString(16).padStart(2, '0')} at byte ${bad}, line ${line}); convert the file to UTF-8`,
    );
  }
}

/** Offset of the first byte that does not start a well-formed UTF-8 sequence (RFC 3629), or the length. */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return b.length;
}

/**
 * The vocabulary bound `textWindows` checks token ids against: the last dimension of the `logits`
 * output, found by name. A model without one (an encoder, say) is not checked.
 */
export function vocabOf(summary: Pick<ModelSummary, 'outputs'>, model: string): { size: number; model: string } | undefined {
  const size = summary.outputs.find((o) => o.name === 'logits')?.dims.at(-1);
  return typeof size === 'number' && size > 0 ? { size, model } : undefined;
}

/**
 * `samples` windows of `sequenceLength` tokens starting at token `offset`.
 * When fewer windows fit, returns as many as fit (the caller reports it); none fitting is an error.
 */
export async function textWindows(opts: {
  textPath: string;
  tokenizerPath: string;
  samples: number;
  sequenceLength: number;
  offset?: number;
  /** The model's vocabulary (its logits' last dimension): a token id at or above it is an error naming both files. */
  vocab?: { size: number; model: string };
}): Promise<TextWindows> {
  const { textPath, tokenizerPath, samples, sequenceLength } = opts;
  if (!(sequenceLength >= 2)) throw new Error(`${textPath}: sequence length must be at least 2 (got ${sequenceLength})`);
  if (!(samples >= 1)) throw new Error(`${textPath}: samples must be at least 1 (got ${samples})`);
  const stream = await tokenStream(textPath, tokenizerPath);
  const offset = Math.max(0, Math.floor(opts.offset ?? 0));
  const fit = Math.floor((stream.length - offset) / sequenceLength);
  const count = Math.min(samples, Math.max(0, fit));
  if (count < 1) {
    throw new Error(`${textPath}: ${stream.length} tokens; no ${sequenceLength}-token window fits after offset ${offset}`);
  }
  const ids = new BigInt64Array(count * sequenceLength);
  for (let i = 0; i < ids.length; i++) {
    const id = stream[offset + i];
    if (opts.vocab && id >= opts.vocab.size) {
      throw new Error(
        `${tokenizerPath}: token id ${id} (token ${offset + i} of ${textPath}) is beyond the vocabulary of ${opts.vocab.model} (${opts.vocab.size} entries); the tokenizer does not belong to this model`,
      );
    }
    ids[i] = BigInt(id);
  }
  return { ids, count, sequenceLength, offset, streamTokens: stream.length };
}

/**
 * Default offsets when the plan leaves them out. Evaluation starts at token 0 (the convention of the
 * reference numbers). Calibration on the same file as evaluation takes its windows from the END of
 * the stream, so the two do not overlap when the file is long enough; on a different file it starts at 0.
 * Returns a warning when calibration and evaluation tokens overlap.
 */
export async function resolveTextOffsets(
  calib: { textPath: string; tokenizerPath: string; samples: number; sequenceLength: number; offset?: number },
  evaluation?: { textPath: string; tokenizerPath: string; samples: number; sequenceLength: number; offset?: number },
): Promise<{ calibrationOffset: number; evaluationOffset: number; warning?: string }> {
  const evaluationOffset = evaluation?.offset ?? 0;
  const sameFile = evaluation && evaluation.textPath === calib.textPath && evaluation.tokenizerPath === calib.tokenizerPath;
  let calibrationOffset = calib.offset ?? 0;
  if (calib.offset === undefined && sameFile) {
    const n = (await tokenStream(calib.textPath, calib.tokenizerPath)).length;
    calibrationOffset = Math.max(0, n - calib.samples * calib.sequenceLength);
  }
  let warning: string | undefined;
  if (sameFile && evaluation) {
    const c0 = calibrationOffset,
      c1 = c0 + calib.samples * calib.sequenceLength;
    const e0 = evaluationOffset,
      e1 = e0 + evaluation.samples * evaluation.sequenceLength;
    if (c0 < e1 && e0 < c1) warning = `calibration tokens [${c0}, ${c1}) overlap evaluation tokens [${e0}, ${e1}) of ${calib.textPath}`;
  }
  return { calibrationOffset, evaluationOffset, warning };
}
