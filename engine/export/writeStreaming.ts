/**
 * Streaming model writes, with ONNX external data for large outputs: the ModelProto skeleton (graph,
 * nodes, small tensors) is encoded in memory, while large initializers are copied tensor by tensor
 * (from their views into the source file, or in chunks from the source's own external data file) into
 * `<output>.data`. Nothing concatenates all weights in memory. Both files are written to temp files in
 * the output folder, fsynced and renamed; on any failure or cancel neither is left half-written, and
 * neither may be the input model or one of its external data files.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { elemBytes, inlineExternalData } from '../onnx/model';
import { encodeModel, encodeModelPieces, type ModelProto, type TensorProto } from '../onnx/onnxProto';
import { externalInfo, numel, resolveExternalPath, type TensorSource } from '../onnx/tensor';

/** Outputs whose tensors add up to more than this go external in `auto` mode: 2 GiB less a 128 MiB margin for the rest. */
export const DEFAULT_EXTERNAL_THRESHOLD = 2 ** 31 - 2 ** 27;
/** Tensors smaller than this stay inside the .onnx (as onnx and onnxruntime do: 1 KiB). */
export const MIN_EXTERNAL_TENSOR_BYTES = 1024;
/** Tensors of at least ALIGN_THRESHOLD bytes start on a page (mmap-able by onnxruntime); smaller ones on 64 bytes. */
const PAGE_ALIGN = 4096,
  ALIGN_THRESHOLD = 2 ** 20,
  SMALL_ALIGN = 64;
/** Chunk for copying external data from the source file and for writing large views. */
const CHUNK = 16 * 2 ** 20;

/** `auto`: external data when the input used it or the tensors exceed the threshold; `always`; `never` (one protobuf). */
export type ExternalDataMode = 'auto' | 'always' | 'never';

export interface StreamingWriteOptions {
  /** The input model: the output and its .data file may not be it (nor its external data files). */
  inputPath?: string;
  /** Where external tensors that `proto` still references live (the source model's `src`). */
  src?: TensorSource;
  externalData?: ExternalDataMode;
  /** `auto` threshold on the sum of tensor payloads, in bytes (default DEFAULT_EXTERNAL_THRESHOLD). */
  thresholdBytes?: number;
  /** Smallest tensor moved to the .data file (default MIN_EXTERNAL_TENSOR_BYTES). */
  minTensorBytes?: number;
  signal?: AbortSignal;
  /** Names the model in errors (default: the output path). */
  label?: string;
  /** Called after each tensor is copied to the .data file. */
  onTensor?: (name: string, done: number, total: number) => void;
}

export interface StreamingWriteResult {
  /** Bytes of the .onnx file. */
  bytes: number;
  /** The external data file written next to the output, when external data was used. */
  dataPath?: string;
  /** Bytes of the .data file (0 when none). */
  dataBytes: number;
  /** Tensors stored in the .data file. */
  externalTensors: number;
}

/** The external data file written for `outPath`: `<output>.data` (location = its base name). */
export function externalDataPath(outPath: string): string {
  return `${outPath}.data`;
}

/** Where a tensor's bytes come from: a view in memory or a range of the source's external data file. */
type Payload = { kind: 'view'; data: Uint8Array } | { kind: 'file'; path: string; offset: number; length: number };

/** The payload of an initializer that can be stored externally (fixed-size type, raw or external), else undefined. */
function payloadOf(t: TensorProto, src: TensorSource | undefined, label: string): Payload | undefined {
  const size = elemBytes(t.dataType);
  if (!size) return undefined;
  if (t.dataLocation === 1) {
    if (!src) throw new Error(`${label}: tensor '${t.name}' refers to external data but no source folder was given`);
    const e = externalInfo(t);
    const length = numel(t.dims, `${src.file}: tensor '${t.name}'`) * size;
    if (!Number.isSafeInteger(e.offset) || e.offset < 0 || (e.length !== undefined && e.length !== length))
      throw new Error(`${src.file}: tensor '${t.name}': invalid external data offset/length`);
    return { kind: 'file', path: resolveExternalPath(src, e.location, t.name), offset: e.offset, length };
  }
  return t.rawData ? { kind: 'view', data: t.rawData } : undefined;
}

const payloadBytes = (p: Payload): number => (p.kind === 'view' ? p.data.length : p.length);

/** The external files `proto` reads from the source (resolved), so that no output can replace one. */
function sourceExternalFiles(proto: ModelProto, src: TensorSource | undefined): string[] {
  if (!src) return [];
  const out = new Set<string>();
  for (const t of proto.graph!.initializer) if (t.dataLocation === 1) out.add(resolveExternalPath(src, externalInfo(t).location, t.name));
  return [...out];
}

/** The real path of `p`, or of its folder joined with its name when `p` does not exist yet. */
async function realTarget(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    /* not there yet */
  }
  try {
    return join(await realpath(dirname(resolve(p))), basename(p));
  } catch {
    return resolve(p);
  }
}

/** Same file: same real path, or (both existing) same device and inode (hard links). */
async function sameFile(a: string, b: string): Promise<boolean> {
  if ((await realTarget(a)) === (await realTarget(b))) return true;
  try {
    const [x, y] = await Promise.all([stat(a), stat(b)]);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

async function writeAll(fh: FileHandle, b: Uint8Array, pos: number): Promise<void> {
  for (let o = 0; o < b.length;) {
    const { bytesWritten } = await fh.write(b, o, Math.min(CHUNK, b.length - o), pos + o);
    if (bytesWritten <= 0) throw new Error('short write');
    o += bytesWritten;
  }
}

/** Copies [offset, offset+length) of `path` to `fh` at `pos` through one reused chunk buffer. */
async function copyRange(
  path: string,
  offset: number,
  length: number,
  fh: FileHandle,
  pos: number,
  buf: Uint8Array,
  signal?: AbortSignal,
): Promise<void> {
  const inp = await open(path, 'r');
  try {
    for (let o = 0; o < length;) {
      signal?.throwIfAborted();
      const { bytesRead } = await inp.read(buf, 0, Math.min(buf.length, length - o), offset + o);
      if (bytesRead <= 0) throw new Error(`${path} ends before byte ${offset + length}`);
      await writeAll(fh, buf.subarray(0, bytesRead), pos + o);
      o += bytesRead;
    }
  } finally {
    await inp.close();
  }
}

const tempName = (p: string) => join(dirname(p), `.${basename(p)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
const isAbort = (e: unknown) => (e as Error)?.name === 'AbortError';

/**
 * Writes `proto` to `outPath`, streaming. With external data (see `ExternalDataMode`), initializers of
 * at least `minTensorBytes` go to `<outPath>.data` at aligned offsets and the .onnx keeps only the
 * skeleton. Without, the model is one protobuf (≤ 2 GiB), written piece by piece from the tensors' views.
 * @throws Error naming the output when it would replace the input or one of its external data files,
 *   when a write fails (nothing is left behind), or the signal's reason when cancelled.
 */
export async function writeModelStreaming(
  proto: ModelProto,
  outPath: string,
  opts: StreamingWriteOptions = {},
): Promise<StreamingWriteResult> {
  const label = opts.label ?? outPath;
  const mode = opts.externalData ?? 'auto';
  const inits = proto.graph!.initializer;
  const payloads = inits.map((t) => payloadOf(t, opts.src, label));
  const total = payloads.reduce((a, p) => a + (p ? payloadBytes(p) : 0), 0);
  const external =
    mode === 'always' ||
    (mode === 'auto' && (inits.some((t) => t.dataLocation === 1) || total > (opts.thresholdBytes ?? DEFAULT_EXTERNAL_THRESHOLD)));
  const dataPath = external ? externalDataPath(outPath) : undefined;

  // Never the input, never one of its external data files (the rename would replace it).
  const protected_ = [...(opts.inputPath ? [opts.inputPath] : []), ...sourceExternalFiles(proto, opts.src)];
  for (const p of protected_) {
    if (await sameFile(outPath, p)) throw new Error(`refusing to write ${outPath}: it is the input model or its external data (${p})`);
    if (dataPath && (await sameFile(dataPath, p)))
      throw new Error(`refusing to write ${dataPath} (external data of ${outPath}): it is the input model or its external data (${p})`);
  }

  const dir = dirname(resolve(outPath));
  await mkdir(dir, { recursive: true });
  const tmpModel = tempName(resolve(outPath));
  const tmpData = dataPath ? tempName(resolve(dataPath)) : undefined;
  const backup = dataPath ? tempName(resolve(dataPath)) + '.old' : undefined;
  let movedOld = false,
    renamedData = false,
    done = false;
  try {
    let skeleton = proto;
    let dataBytes = 0,
      externalTensors = 0;
    if (tmpData) {
      const moved = payloads.map((p) => (p && payloadBytes(p) >= (opts.minTensorBytes ?? MIN_EXTERNAL_TENSOR_BYTES) ? p : undefined));
      const count = moved.filter(Boolean).length;
      const location = basename(dataPath!);
      const out = inits.slice();
      const fh = await open(tmpData, 'wx');
      try {
        const buf = new Uint8Array(CHUNK);
        for (let i = 0; i < inits.length; i++) {
          const p = moved[i];
          if (!p) continue;
          opts.signal?.throwIfAborted();
          const length = payloadBytes(p);
          const align = length >= ALIGN_THRESHOLD ? PAGE_ALIGN : SMALL_ALIGN;
          const offset = Math.ceil(dataBytes / align) * align; // the gap reads as zeros
          if (p.kind === 'view') await writeAll(fh, p.data, offset);
          else await copyRange(p.path, p.offset, p.length, fh, offset, buf, opts.signal);
          dataBytes = offset + length;
          const t = inits[i];
          out[i] = {
            ...t,
            rawData: undefined,
            floatData: [],
            int32Data: [],
            int64Data: [],
            dataLocation: 1,
            externalData: [
              { key: 'location', value: location },
              { key: 'offset', value: String(offset) },
              { key: 'length', value: String(length) },
            ],
          };
          externalTensors++;
          opts.onTensor?.(t.name, externalTensors, count);
        }
        await fh.truncate(dataBytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      skeleton = { ...proto, graph: { ...proto.graph!, initializer: out } };
    } else if (opts.src) {
      skeleton = inlineExternalData(proto, opts.src, 0);
    }
    opts.signal?.throwIfAborted();
    // The skeleton is small with external data; without, write the protobuf's pieces (views) in turn.
    const { pieces, length } = tmpData ? { pieces: [encodeModel(skeleton, label)], length: 0 } : encodeModelPieces(skeleton, label);
    const fh = await open(tmpModel, 'wx');
    let bytes = 0;
    try {
      // Small pieces are gathered into ≤ CHUNK writes; large ones (tensor views) are written as they are.
      let batch: Uint8Array[] = [],
        batched = 0;
      const flush = async () => {
        if (!batch.length) return;
        const b = batch.length === 1 ? batch[0] : Buffer.concat(batch, batched);
        await writeAll(fh, b, bytes);
        bytes += b.length;
        batch = [];
        batched = 0;
        opts.signal?.throwIfAborted();
      };
      for (const p of pieces) {
        if (p.length >= CHUNK) {
          await flush();
          batch = [p];
          batched = p.length;
          await flush();
          continue;
        }
        if (batched + p.length > CHUNK) await flush();
        batch.push(p);
        batched += p.length;
      }
      await flush();
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (length && bytes !== length) throw new Error(`wrote ${bytes} of ${length} bytes`);
    // Commit: the new .data replaces the old one (kept aside until the .onnx is in place), then the .onnx.
    if (tmpData) {
      try {
        await rename(resolve(dataPath!), backup!);
        movedOld = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      await rename(tmpData, resolve(dataPath!));
      renamedData = true;
    }
    await rename(tmpModel, resolve(outPath));
    done = true;
    return { bytes, dataPath, dataBytes, externalTensors };
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new Error(`cannot write ${outPath}${dataPath ? ` (with external data ${basename(dataPath)})` : ''}: ${(e as Error).message}`);
  } finally {
    if (!done) {
      await unlink(tmpModel).catch(() => undefined);
      if (tmpData) await unlink(tmpData).catch(() => undefined);
      if (renamedData) await unlink(resolve(dataPath!)).catch(() => undefined);
      if (movedOld) await rename(backup!, resolve(dataPath!)).catch(() => undefined);
    } else if (movedOld) await unlink(backup!).catch(() => undefined);
  }
}
