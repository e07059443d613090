/**
 * NumPy `.npy` reader (format versions 1–3), for calibration/evaluation tensors.
 * Supported dtypes: f4, f2, f8, i8, i4, u1 (little-endian or byte-order-free), C order only.
 * Values come back as Float32Array (floats) or BigInt64Array / Int32Array / Uint8Array (integers),
 * i.e. the typed arrays onnxruntime-node tensors take directly.
 */
import { readFileSync } from 'node:fs';

/** NumPy dtypes this reader understands (`descr` without the byte-order prefix). */
export type NpyDtype = 'f4' | 'f2' | 'f8' | 'i8' | 'i4' | 'u1';

/** One decoded array. `data.length` equals the product of `shape`. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

/**
 * Parses `.npy` bytes. `source` names the file (or `archive.npz:entry`) in error messages.
 * f2 and f8 are converted to Float32Array.
 */
export function parseNpy(bytes: Buffer, source: string): NpyArray {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw new Error(`${source}: not a .npy file (bad magic)`);
  const major = bytes[6];
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = bytes.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    headerLen = bytes.readUInt32LE(8);
    offset = 12;
  } else throw new Error(`${source}: unsupported .npy format version ${major}`);
  const header = bytes.subarray(offset, offset + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new Error(`${source}: malformed .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new Error(`${source}: Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${source}: bad shape (${shapeText})`);
  if (descr.startsWith('>') && descr.slice(1) !== 'u1') throw new Error(`${source}: big-endian dtype '${descr}' is not supported`);
  const dtype = descr.replace(/^[<|=]/, '') as NpyDtype;
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(offset + headerLen);
  const need = count * itemSize(dtype, source);
  if (body.length < need) throw new Error(`${source}: truncated data (${body.length} bytes, shape [${shape}] ${descr} needs ${need})`);
  // Copy into an aligned buffer: the payload offset inside the file is not guaranteed aligned.
  const raw = new Uint8Array(need);
  raw.set(body.subarray(0, need));
  return { dtype, shape, data: decode(dtype, raw, count) };
}

/** Reads one `.npy` file. */
export function readNpy(path: string): NpyArray {
  return parseNpy(readFileSync(path), path);
}

function itemSize(dtype: string, source: string): number {
  switch (dtype) {
    case 'f8':
    case 'i8':
      return 8;
    case 'f4':
    case 'i4':
      return 4;
    case 'f2':
      return 2;
    case 'u1':
      return 1;
    default:
      throw new Error(`${source}: unsupported dtype '${dtype}' (supported: f4, f2, f8, i8, i4, u1)`);
  }
}

function decode(dtype: NpyDtype, raw: Uint8Array, count: number): NpyArray['data'] {
  switch (dtype) {
    case 'f4':
      return new Float32Array(raw.buffer, 0, count);
    case 'f8':
      return Float32Array.from(new Float64Array(raw.buffer, 0, count));
    case 'f2': {
      const half = new Uint16Array(raw.buffer, 0, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(half[i]);
      return out;
    }
    case 'i8':
      return new BigInt64Array(raw.buffer, 0, count);
    case 'i4':
      return new Int32Array(raw.buffer, 0, count);
    case 'u1':
      return raw;
  }
}

/** IEEE 754 binary16 → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Serializes an array as `.npy` v1 (little-endian); used to write examples and test fixtures. */
export function encodeNpy(array: NpyArray): Buffer {
  const descr = array.dtype === 'u1' ? '|u1' : `<${array.dtype}`;
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head, 0);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const { data } = array;
  if (array.dtype === 'f2' || array.dtype === 'f8') throw new Error(`encodeNpy: writing ${array.dtype} is not supported`);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}
