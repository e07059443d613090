import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';

/** A loaded Hugging Face tokenizer, reduced to what the engine needs. */
export interface TextTokenizer {
  /**
   * Token ids of `text`. With `special` (default true) the tokenizer's own post-processor template
   * applies (for Llama tokenizers: a BOS `<s>` before the text); without it, the bare ids.
   */
  encode(text: string, special?: boolean): number[];
  /** The text of token ids, special tokens (BOS/EOS) left out. */
  decode(ids: readonly number[]): string;
  /** Vocabulary size as declared by the tokenizer model (added tokens included). */
  vocabSize: number;
}

const cache = new Map<string, Promise<TextTokenizer>>();

/**
 * Loads a Hugging Face `tokenizer.json` (cached per absolute path).
 * @throws Error naming the file when it is missing or not a tokenizer.
 */
export function loadTokenizer(path: string): Promise<TextTokenizer> {
  let p = cache.get(path);
  if (!p) {
    p = load(path);
    cache.set(path, p);
    p.catch(() => cache.delete(path));
  }
  return p;
}

/** Tokenizer model types the Hugging Face tokenizers library builds. */
const MODEL_TYPES = ['BPE', 'WordPiece', 'WordLevel', 'Unigram'];

async function load(path: string): Promise<TextTokenizer> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: cannot read tokenizer: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(
      `${path}: not a tokenizer.json (the file holds ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}, not an object)`,
    );
  if (typeof json.model !== 'object' || json.model === null) throw new Error(`${path}: not a tokenizer.json (no "model" section)`);
  const type = (json.model as { type?: unknown }).type;
  if (type !== undefined && !MODEL_TYPES.includes(String(type)))
    throw new Error(`${path}: unknown tokenizer model type ${JSON.stringify(type)} (known: ${MODEL_TYPES.join(', ')})`);
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, {});
  } catch (e) {
    throw new Error(`${path}: cannot build tokenizer: ${(e as Error).message}`);
  }
  const vocab = (json.model as { vocab?: Record<string, number> | unknown[] }).vocab;
  const vocabSize = Array.isArray(vocab) ? vocab.length : vocab && typeof vocab === 'object' ? Object.keys(vocab).length : 0;
  if (!vocabSize) throw new Error(`${path}: the tokenizer's vocabulary is empty`);
  return {
    vocabSize,
    encode: (text: string, special = true) => tok.encode(text, { add_special_tokens: special }).ids,
    decode: (ids: readonly number[]) => tok.decode([...ids], { skip_special_tokens: true }),
  };
}
