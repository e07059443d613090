// Test fixture: seeded image-like tensors written as .npz with the engine's own zip/npy writers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../../language-server/src/engine/calibrate/calibrationData';
import { encodeNpy } from '../../../language-server/src/engine/data/npy';
import { writeZip } from '../../../language-server/src/engine/data/npyArchive';

/** Writes x: [n, 3, h, w] (the det model needs h, w multiples of 32) seeded uniform [-1, 1) as an .npz; returns its path and data. */
export function writeImageNpz(dir: string, n: number, h: number, w: number, seed = 7): { path: string; data: Float32Array; dims: number[] } {
  const rnd = seededRandom(seed);
  const data = Float32Array.from({ length: n * 3 * h * w }, () => rnd() * 2 - 1);
  const dims = [n, 3, h, w];
  const path = join(dir, 'x.npz');
  writeFileSync(path, writeZip(new Map([['x.npy', encodeNpy({ dtype: 'f4', shape: dims, data })]]), true));
  return { path, data, dims };
}

