/**
 * Tensor payloads: element types, fp16 conversion, float32 views of weights (raw_data, float_data,
 * fp16 int32_data, external data resolved safely inside the model's folder), and new tensors.
 */
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { freemem } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import { OnnxFormatError } from './protobuf';
import type { TensorProto } from './onnxProto';

export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10, DOUBLE: 11, UINT4: 21, INT4: 22 } as const;

const NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
  21: 'uint4',
  22: 'int4',
};

/** Human name of an ONNX element type ("float32", "int64", …). */
export function dtypeName(t: number | undefined): string {
  return t === undefined ? 'unknown' : (NAMES[t] ?? `type${t}`);
}

/** Product of dims, refusing negative or absurd values. */
export function numel(dims: number[], what: string): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxFormatError(`${what}: invalid dimension ${d} in [${dims.join(',')}]`);
    n *= d;
  }
  if (n > 2 ** 31) throw new OnnxFormatError(`${what}: ${n} elements is more than this tool supports`);
  return n;
}

/** IEEE half → float. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float → IEEE half (round to nearest even). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** The values rounded to the nearest float16 (as float32): what a tensor stored as fp16 holds. */
export function roundToHalf(data: Float32Array): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = halfToFloat(floatToHalf(data[i]));
  return out;
}

/** True when every value survives float16 storage exactly (so storing it as fp16 loses nothing). */
export function isHalfExact(data: Float32Array): boolean {
  for (let i = 0; i < data.length; i++) if (halfToFloat(floatToHalf(data[i])) !== data[i]) return false;
  return true;
}

/**
 * Context needed to read external data: the model's folder (already realpath'ed), file name for
 * errors, and the most bytes one external tensor read may allocate (default: `memoryAvailable()`).
 */
export interface TensorSource {
  dir: string;
  file: string;
  maxBytes?: number;
}

/** Bytes this process can still allocate in one piece: free memory, capped by the largest buffer Node allows. */
export function memoryAvailable(): number {
  return Math.min(freemem(), bufferConstants.MAX_LENGTH);
}

/** The most bytes one read from `src` may allocate: its `maxBytes`, capped by `memoryAvailable()`. */
export function readBudget(src: TensorSource): number {
  return Math.min(src.maxBytes ?? Infinity, memoryAvailable());
}

/** A tensor's external_data entries: location, offset (default 0) and length (when given), unchecked. */
export function externalInfo(t: TensorProto): { location: string; offset: number; length?: number } {
  const kv = new Map(t.externalData.map((e) => [e.key, e.value]));
  return {
    location: kv.get('location') ?? '',
    offset: Number(kv.get('offset') ?? 0),
    length: kv.has('length') ? Number(kv.get('length')) : undefined,
  };
}

/**
 * Resolves an external-data location strictly inside the model's folder: no absolute paths, no `..`,
 * no symlink that leaves the folder.
 */
export function resolveExternalPath(src: TensorSource, location: string, tensor: string): string {
  const bad = (why: string): never => {
    throw new OnnxFormatError(`${src.file}: tensor '${tensor}' has external data location '${location}' which is refused: ${why}`);
  };
  if (!location) bad('empty location');
  if (location.includes('\0')) bad('NUL byte in path');
  if (isAbsolute(location) || /^[a-zA-Z]:/.test(location) || location.startsWith('\\')) bad('absolute paths are not allowed');
  if (location.split(/[\\/]/).includes('..')) bad("'..' is not allowed");
  const full = join(src.dir, location);
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    return bad(`file not found next to the model (${full})`);
  }
  const rel = relative(src.dir, real);
  if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep)[0] === '..') bad('it resolves (via a symlink) outside the model folder');
  return real;
}

/** Opens a tensor's external data after checking its offset and length against `bytes` and the file; the caller closes `fd`. */
function openExternal(src: TensorSource, t: TensorProto, bytes: number): { fd: number; offset: number; length: number; location: string } {
  const e = externalInfo(t);
  const { location, offset } = e;
  const length = e.length ?? bytes;
  const path = resolveExternalPath(src, location, t.name);
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)
    throw new OnnxFormatError(`${src.file}: tensor '${t.name}': invalid external data offset/length`);
  if (length !== bytes)
    throw new OnnxFormatError(`${src.file}: tensor '${t.name}': external data length ${length} != ${bytes} bytes for dims [${t.dims}]`);
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  if (offset + length > size) {
    closeSync(fd);
    throw new OnnxFormatError(
      `${src.file}: tensor '${t.name}': external data [${offset}, ${offset + length}) is past the end of ${location} (${size} bytes)`,
    );
  }
  return { fd, offset, length, location };
}

/** Refuses, before anything is allocated, an external tensor of `bytes` that passes the memory available (the error names file, tensor and data file). */
export function checkExternalBudget(src: TensorSource, t: TensorProto, bytes: number): void {
  const avail = readBudget(src);
  if (bytes > avail)
    throw new OnnxFormatError(
      `${src.file}: tensor '${t.name}' needs ${bytes} bytes of external data from ${externalInfo(t).location}, more than the ${avail} bytes of memory available`,
    );
}

/**
 * Reads an external tensor's bytes in chunks of whole rows (`rowBytes` each, at most about `chunkBytes`
 * a chunk) and hands each to `use` with the index of its first row: the tensor is never in memory
 * whole (issue 11: the LM head's weight is read straight into its transposed layout).
 */
export function readExternalRows(
  src: TensorSource,
  t: TensorProto,
  bytes: number,
  rowBytes: number,
  chunkBytes: number,
  use: (chunk: Uint8Array, firstRow: number) => void,
): void {
  if (!(rowBytes > 0 && bytes % rowBytes === 0))
    throw new OnnxFormatError(`${src.file}: tensor '${t.name}': ${bytes} bytes are not whole rows of ${rowBytes} bytes`);
  const { fd, offset, location } = openExternal(src, t, bytes);
  try {
    const rowsPer = Math.max(1, Math.floor(chunkBytes / rowBytes));
    const buf = new Uint8Array(Math.min(bytes, rowsPer * rowBytes));
    for (let at = 0; at < bytes; at += buf.length) {
      const chunk = buf.subarray(0, Math.min(buf.length, bytes - at));
      for (let got = 0; got < chunk.length;) {
        const n = readSync(fd, chunk, got, chunk.length - got, offset + at + got);
        if (n <= 0) throw new OnnxFormatError(`${src.file}: tensor '${t.name}': ${location} ended while reading it`);
        got += n;
      }
      use(chunk, at / rowBytes);
    }
  } finally {
    closeSync(fd);
  }
}

function readExternal(src: TensorSource, t: TensorProto, bytes: number): Uint8Array {
  const { fd, offset, length, location } = openExternal(src, t, bytes);
  try {
    const avail = readBudget(src);
    const tooBig = () =>
      new OnnxFormatError(
        `${src.file}: tensor '${t.name}' needs ${length} bytes of external data from ${location}, more than the ${avail} bytes of memory available`,
      );
    if (length > avail) throw tooBig();
    let out: Uint8Array;
    try {
      out = new Uint8Array(length);
    } catch {
      throw tooBig();
    }
    let got = 0;
    while (got < length) {
      const n = readSync(fd, out, got, length - got, offset + got);
      if (n <= 0) break;
      got += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** The tensor's little-endian bytes for fixed-size types (raw or external). Undefined when stored in typed fields. */
export function tensorBytes(src: TensorSource, t: TensorProto, elemBytes: number): Uint8Array | undefined {
  const n = numel(t.dims, `${src.file}: tensor '${t.name}'`);
  if (t.dataLocation === 1) return readExternal(src, t, n * elemBytes);
  if (t.rawData === undefined) return undefined;
  if (t.rawData.length !== n * elemBytes)
    throw new OnnxFormatError(
      `${src.file}: tensor '${t.name}' has ${t.rawData.length} bytes of raw_data, expected ${n * elemBytes} for ${dtypeName(t.dataType)}[${t.dims.join(',')}]`,
    );
  return t.rawData;
}

/**
 * The tensor as float32 (fp32 data is a zero-copy view when aligned; fp16/float64 are converted).
 * Refuses non-float types with a clear error.
 */
export function tensorToFloat32(src: TensorSource, t: TensorProto): Float32Array {
  const what = `${src.file}: tensor '${t.name}'`;
  const n = numel(t.dims, what);
  if (t.dataType === DT.FLOAT) {
    const b = tensorBytes(src, t, 4);
    if (!b) {
      if (t.floatData.length !== n) throw new OnnxFormatError(`${what} has ${t.floatData.length} float_data values, expected ${n}`);
      return Float32Array.from(t.floatData);
    }
    if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, n);
    return new Float32Array(b.slice().buffer);
  }
  if (t.dataType === DT.FLOAT16) {
    const out = new Float32Array(n);
    const b = tensorBytes(src, t, 2);
    if (b) {
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
    } else {
      if (t.int32Data.length !== n) throw new OnnxFormatError(`${what} has ${t.int32Data.length} int32_data values, expected ${n}`);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(t.int32Data[i] & 0xffff);
    }
    return out;
  }
  if (t.dataType === DT.DOUBLE) {
    const b = tensorBytes(src, t, 8);
    if (!b) throw new OnnxFormatError(`${what}: float64 stored in double_data is not supported`);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Float32Array.from({ length: n }, (_, i) => dv.getFloat64(i * 8, true));
  }
  throw new OnnxFormatError(`${what} has element type ${dtypeName(t.dataType)}; a float weight was expected`);
}

/** Small integer tensors (shapes, perms): int64 or int32 values as numbers. */
export function tensorToInts(src: TensorSource, t: TensorProto): number[] {
  const n = numel(t.dims, `${src.file}: tensor '${t.name}'`);
  if (t.dataType === DT.INT64) {
    const b = tensorBytes(src, t, 8);
    if (!b) return t.int64Data.slice(0, n);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Array.from({ length: n }, (_, i) => Number(dv.getBigInt64(i * 8, true)));
  }
  if (t.dataType === DT.INT32) {
    const b = tensorBytes(src, t, 4);
    if (!b) return t.int32Data.slice(0, n);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return Array.from({ length: n }, (_, i) => dv.getInt32(i * 4, true));
  }
  throw new OnnxFormatError(`${src.file}: tensor '${t.name}' has element type ${dtypeName(t.dataType)}; integers were expected`);
}

/** A new tensor with raw little-endian data. */
export function makeTensor(name: string, dataType: number, dims: number[], raw: Uint8Array): TensorProto {
  return { name, dataType, dims, rawData: raw, floatData: [], int32Data: [], int64Data: [], externalData: [], unknown: [] };
}

/** A new float tensor stored as `dtype` (FLOAT or FLOAT16). */
export function makeFloatTensor(name: string, dims: number[], data: Float32Array, dtype: number = DT.FLOAT): TensorProto {
  if (dtype === DT.FLOAT16) {
    const u = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) u[i] = floatToHalf(data[i]);
    return makeTensor(name, DT.FLOAT16, dims, new Uint8Array(u.buffer));
  }
  const copy = new Float32Array(data);
  return makeTensor(name, DT.FLOAT, dims, new Uint8Array(copy.buffer));
}

/** An int64 tensor (shapes). */
export function makeInt64Tensor(name: string, values: number[]): TensorProto {
  const b = new BigInt64Array(values.map((v) => BigInt(v)));
  return makeTensor(name, DT.INT64, [values.length], new Uint8Array(b.buffer));
}

/** A scalar (dims []) of type INT64, DOUBLE, FLOAT16 or (any other) FLOAT holding `v`. */
export function makeScalarTensor(name: string, dtype: number, v: number): TensorProto {
  if (dtype === DT.INT64) return makeTensor(name, DT.INT64, [], new Uint8Array(new BigInt64Array([BigInt(v)]).buffer));
  if (dtype === DT.DOUBLE) return makeTensor(name, DT.DOUBLE, [], new Uint8Array(new Float64Array([v]).buffer));
  if (dtype === DT.FLOAT16) return makeTensor(name, DT.FLOAT16, [], new Uint8Array(new Uint16Array([floatToHalf(v)]).buffer));
  return makeTensor(name, DT.FLOAT, [], new Uint8Array(new Float32Array([v]).buffer));
}
