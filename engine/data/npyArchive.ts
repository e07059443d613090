/**
 * NumPy `.npz` reader (a zip of `.npy` entries; `np.savez` stores, `np.savez_compressed` deflates)
 * and a loader for tensor inputs given as one `.npy`, one `.npz`, or a folder of `.npy` files.
 * Zip64 and encrypted/multi-disk archives are not supported (np.savez writes neither for < 4 GB).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
import { inflateRawSync, deflateRawSync, crc32 } from 'node:zlib';
import { parseNpy, readNpy, type NpyArray } from './npy';

const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;

/** Raw zip entries (name → uncompressed bytes), stored (0) and deflated (8) only. */
export function readZipEntries(bytes: Buffer, source: string): Map<string, Buffer> {
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (bytes.readUInt32LE(i) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${source}: not a zip/.npz archive (no end-of-central-directory record)`);
  const entries = bytes.readUInt16LE(eocd + 10);
  let p = bytes.readUInt32LE(eocd + 16);
  if (p === 0xffffffff) throw new Error(`${source}: zip64 archives are not supported`);
  const out = new Map<string, Buffer>();
  for (let e = 0; e < entries; e++) {
    if (p + 46 > bytes.length || bytes.readUInt32LE(p) !== CEN_SIG)
      throw new Error(`${source}: corrupt zip central directory (entry ${e})`);
    const flags = bytes.readUInt16LE(p + 8);
    const method = bytes.readUInt16LE(p + 10);
    const compSize = bytes.readUInt32LE(p + 20);
    const size = bytes.readUInt32LE(p + 24);
    const nameLen = bytes.readUInt16LE(p + 28);
    const extraLen = bytes.readUInt16LE(p + 30);
    const commentLen = bytes.readUInt16LE(p + 32);
    const local = bytes.readUInt32LE(p + 42);
    const name = bytes.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (flags & 1) throw new Error(`${source}: entry '${name}' is encrypted`);
    if (compSize === 0xffffffff || size === 0xffffffff || local === 0xffffffff)
      throw new Error(`${source}: entry '${name}' needs zip64, not supported`);
    if (bytes.readUInt32LE(local) !== LOC_SIG) throw new Error(`${source}: corrupt local header for '${name}'`);
    const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const comp = bytes.subarray(start, start + compSize);
    let data: Buffer;
    if (method === 0) data = comp;
    else if (method === 8) {
      try {
        data = inflateRawSync(comp);
      } catch (err) {
        throw new Error(`${source}: cannot inflate '${name}': ${(err as Error).message}`);
      }
    } else throw new Error(`${source}: entry '${name}' uses zip compression method ${method} (only stored and deflate are supported)`);
    if (data.length !== size) throw new Error(`${source}: entry '${name}' has ${data.length} bytes, header says ${size}`);
    out.set(name, data);
  }
  return out;
}

/** Reads a `.npz`: array name (entry name without `.npy`) → array, in archive order. */
export function readNpz(path: string): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const [name, data] of readZipEntries(readFileSync(path), path)) {
    if (!name.endsWith('.npy')) continue;
    out.set(name.slice(0, -4), parseNpy(data, `${path}:${name}`));
  }
  if (out.size === 0) throw new Error(`${path}: the archive holds no .npy arrays`);
  return out;
}

/**
 * Loads named tensors from a `.npy` (named after the file), a `.npz` (named by entry), or a folder
 * of `.npy` files (named by file, sorted). Names are matched to model inputs by the caller.
 */
export function readTensorSource(path: string): Map<string, NpyArray> {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new Error(`${path}: no such file or folder`);
  if (st.isDirectory()) {
    const files = readdirSync(path)
      .filter((f) => f.endsWith('.npy'))
      .sort();
    if (!files.length) throw new Error(`${path}: the folder holds no .npy files`);
    return new Map(files.map((f) => [f.slice(0, -4), readNpy(join(path, f))]));
  }
  if (path.endsWith('.npz')) return readNpz(path);
  if (path.endsWith('.npy')) return new Map([[basename(path, '.npy'), readNpy(path)]]);
  throw new Error(`${path}: expected a .npy, a .npz or a folder of .npy files`);
}

/**
 * Writes a zip (like `np.savez`/`np.savez_compressed`): entries stored or deflated.
 * Used to produce `.npz` example data and test fixtures without Python.
 */
export function writeZip(entries: Map<string, Buffer>, compress: boolean): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const nameBuf = Buffer.from(name, 'utf8');
    const body = compress ? deflateRawSync(data) : data;
    const crc = crc32(data);
    const loc = Buffer.alloc(30);
    loc.writeUInt32LE(LOC_SIG, 0);
    loc.writeUInt16LE(20, 4);
    loc.writeUInt16LE(0, 6);
    loc.writeUInt16LE(compress ? 8 : 0, 8);
    loc.writeUInt32LE(crc, 14);
    loc.writeUInt32LE(body.length, 18);
    loc.writeUInt32LE(data.length, 22);
    loc.writeUInt16LE(nameBuf.length, 26);
    const cen = Buffer.alloc(46);
    cen.writeUInt32LE(CEN_SIG, 0);
    cen.writeUInt16LE(20, 4);
    cen.writeUInt16LE(20, 6);
    cen.writeUInt16LE(compress ? 8 : 0, 10);
    cen.writeUInt32LE(crc, 16);
    cen.writeUInt32LE(body.length, 20);
    cen.writeUInt32LE(data.length, 24);
    cen.writeUInt16LE(nameBuf.length, 28);
    cen.writeUInt32LE(offset, 42);
    locals.push(loc, nameBuf, body);
    central.push(cen, nameBuf);
    offset += 30 + nameBuf.length + body.length;
  }
  const cenSize = central.reduce((a, b) => a + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD_SIG, 0);
  end.writeUInt16LE(entries.size, 8);
  end.writeUInt16LE(entries.size, 10);
  end.writeUInt32LE(cenSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...central, end]);
}
