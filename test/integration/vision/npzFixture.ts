// Test fixture: seeded image-like tensors written as .npz with the engine's own zip/npy writers.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../../engine/calibrate/calibrationData';
import { encodeNpy } from '../../../engine/data/npy';
import { writeZip } from '../../../engine/data/npyArchive';
import { preprocessImage } from '../../../engine/data/images';
import { renderTextPage } from '../../../engine/data/imagesRender';

/** Writes x: [n, 3, h, w] (the det model needs h, w multiples of 32) seeded uniform [-1, 1) as an .npz; returns its path and data. */
export function writeImageNpz(
  dir: string,
  n: number,
  h: number,
  w: number,
  seed = 7,
): { path: string; data: Float32Array; dims: number[] } {
  const rnd = seededRandom(seed);
  const data = Float32Array.from({ length: n * 3 * h * w }, () => rnd() * 2 - 1);
  const dims = [n, 3, h, w];
  const path = join(dir, 'x.npz');
  writeFileSync(path, writeZip(new Map([['x.npy', encodeNpy({ dtype: 'f4', shape: dims, data })]]), true));
  return { path, data, dims };
}

/**
 * Writes rendered text pages, preprocessed like PP-OCR det input (ImageNet mean/std, BGR, NCHW),
 * as x: [pages, 3, height, width] in `dir/x.npz` — realistic data for the det model.
 */
export function writePageNpz(dir: string, pages: string[][], height = 64, width = 256): { path: string; dims: number[] } {
  const image = {
    height,
    width,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    layout: 'nchw' as const,
    channels: 'bgr' as const,
  };
  const parts = pages.map((p) => preprocessImage(renderTextPage(p, { width }), image).data);
  const data = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  parts.forEach((p, i) => data.set(p, i * p.length));
  const dims = [pages.length, 3, height, width];
  const path = join(dir, 'x.npz');
  writeFileSync(path, writeZip(new Map([['x.npy', encodeNpy({ dtype: 'f4', shape: dims, data })]]), true));
  return { path, dims };
}
