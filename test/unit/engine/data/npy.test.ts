import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { parseNpy, encodeNpy, halfToFloat, readNpy } from '../../../../engine/data/npy';
import { readNpz, readTensorSource, writeZip, readZipEntries } from '../../../../engine/data/npyArchive';

/** A hand-built v1 header exactly as numpy 1.x writes it for np.save(np.arange(6, dtype='<f4').reshape(2,3)). */
function numpyStyle(descr: string, shape: string, payload: Buffer, version = 1): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const pre = version === 1 ? 10 : 12;
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), payload]);
}

describe('npy', () => {
  test('reads f4 C-order with shape (v1 and v2 headers)', () => {
    const payload = Buffer.from(new Float32Array([0, 1, 2, 3, 4, 5.5]).buffer);
    for (const v of [1, 2]) {
      const a = parseNpy(numpyStyle('<f4', '(2, 3)', payload, v), 'x.npy');
      assert.deepEqual(a.shape, [2, 3]);
      assert.equal(a.dtype, 'f4');
      assert.deepEqual(Array.from(a.data as Float32Array), [0, 1, 2, 3, 4, 5.5]);
    }
  });
  test('reads i8, i4, u1 and f2 (half → float)', () => {
    const i8 = parseNpy(numpyStyle('<i8', '(3,)', Buffer.from(new BigInt64Array([1n, -2n, 30000000000n]).buffer)), 'a');
    assert.deepEqual(Array.from(i8.data as BigInt64Array), [1n, -2n, 30000000000n]);
    const i4 = parseNpy(numpyStyle('<i4', '(2,)', Buffer.from(new Int32Array([-7, 9]).buffer)), 'b');
    assert.deepEqual(Array.from(i4.data as Int32Array), [-7, 9]);
    const u1 = parseNpy(numpyStyle('|u1', '(1, 2)', Buffer.from([200, 3])), 'c');
    assert.deepEqual(Array.from(u1.data as Uint8Array), [200, 3]);
    // 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 0x0001 = 2^-24
    const f2 = parseNpy(numpyStyle('<f2', '(4,)', Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]).buffer)), 'd');
    assert.deepEqual(Array.from(f2.data as Float32Array), [1, -2, 65504, Math.fround(2 ** -24)]);
    assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  });
  test('scalar shape () has one element', () => {
    const a = parseNpy(numpyStyle('<f4', '()', Buffer.from(new Float32Array([3]).buffer)), 's');
    assert.deepEqual(a.shape, []);
    assert.equal(a.data.length, 1);
  });
  test('clear errors naming the file', () => {
    assert.throws(() => parseNpy(Buffer.from('hello world!'), 'bad.npy'), /bad\.npy: not a \.npy file/);
    assert.throws(() => parseNpy(numpyStyle('<c8', '(1,)', Buffer.alloc(8)), 'c.npy'), /c\.npy: unsupported dtype 'c8'/);
    assert.throws(() => parseNpy(numpyStyle('<f4', '(4,)', Buffer.alloc(8)), 't.npy'), /t\.npy: truncated data/);
    const fortran = numpyStyle('<f4', '(1,)', Buffer.alloc(4))
      .toString('latin1')
      .replace("'fortran_order': False", "'fortran_order': True ");
    assert.throws(() => parseNpy(Buffer.from(fortran, 'latin1'), 'f.npy'), /f\.npy: Fortran-order/);
  });
  test('encodeNpy round-trips', () => {
    const a = { dtype: 'i8' as const, shape: [2, 2], data: new BigInt64Array([1n, 2n, 3n, 4n]) };
    const b = parseNpy(encodeNpy(a), 'r');
    assert.deepEqual(b.shape, [2, 2]);
    assert.deepEqual(Array.from(b.data as BigInt64Array), [1n, 2n, 3n, 4n]);
  });
});

describe('npz', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-npz-'));
  const x = encodeNpy({ dtype: 'f4', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
  const ids = encodeNpy({ dtype: 'i8', shape: [1, 3], data: new BigInt64Array([5n, 6n, 7n]) });
  test('stored (np.savez) and deflated (np.savez_compressed) entries', () => {
    for (const compress of [false, true]) {
      const p = join(dir, `a${compress}.npz`);
      writeFileSync(
        p,
        writeZip(
          new Map([
            ['x.npy', x],
            ['input_ids.npy', ids],
          ]),
          compress,
        ),
      );
      const m = readNpz(p);
      assert.deepEqual([...m.keys()], ['x', 'input_ids']);
      assert.deepEqual(Array.from(m.get('x')!.data as Float32Array), [1, 2, 3, 4]);
      assert.deepEqual(Array.from(m.get('input_ids')!.data as BigInt64Array), [5n, 6n, 7n]);
    }
  });
  test('deflate really compresses and the reader inflates it', () => {
    const big = encodeNpy({ dtype: 'f4', shape: [1000], data: new Float32Array(1000) });
    const zip = writeZip(new Map([['z.npy', big]]), true);
    assert.ok(zip.length < big.length / 4);
    assert.equal(readZipEntries(zip, 'z.npz').get('z.npy')!.length, big.length);
    assert.ok(deflateRawSync(big).length < big.length);
  });
  test('errors name the archive and entry', () => {
    const p = join(dir, 'bad.npz');
    writeFileSync(p, Buffer.from('not a zip at all, definitely not'));
    assert.throws(() => readNpz(p), /bad\.npz: not a zip/);
    const q = join(dir, 'badentry.npz');
    writeFileSync(q, writeZip(new Map([['w.npy', Buffer.from('garbage-bytes')]]), false));
    assert.throws(() => readNpz(q), /badentry\.npz:w\.npy: not a \.npy file/);
  });
  test('readTensorSource: .npy, .npz and a folder of .npy', () => {
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'b.npy'), ids);
    writeFileSync(join(folder, 'a.npy'), x);
    assert.deepEqual([...readTensorSource(folder).keys()], ['a', 'b']);
    assert.deepEqual(readNpy(join(folder, 'a.npy')).shape, [2, 2]);
    assert.deepEqual([...readTensorSource(join(folder, 'b.npy')).keys()], ['b']);
    assert.throws(() => readTensorSource(join(dir, 'nope.npz')), /nope\.npz: no such file/);
  });
});
