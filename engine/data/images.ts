/**
 * Image inputs for vision models: decode PNG/JPEG with @napi-rs/canvas, resize, normalize and lay
 * out as an onnxruntime-ready float tensor. Text-line models (width −1 in the plan) keep the aspect
 * ratio at a fixed height, as PaddleOCR's recognizer expects.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, extname, dirname, resolve } from 'node:path';
import { createCanvas, loadImage as decodeImage } from '@napi-rs/canvas';
import type { ImageInputPlan } from '../../protocol/plan';

/** Decoded pixels, RGBA 8-bit, row-major (like DOM ImageData). */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** A preprocessed image: the float tensor and its dims (NCHW or NHWC, batch 1). */
export interface ImageTensor {
  data: Float32Array;
  dims: [number, number, number, number];
}

/** PaddleOCR recognition input (PP-OCRv4 rec): height 48, keep aspect, (x/255−0.5)/0.5, BGR, NCHW. */
export const PADDLE_REC_INPUT: ImageInputPlan = {
  height: 48,
  width: -1,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  layout: 'nchw',
  channels: 'bgr',
};

/** Widest text line fed to the recognizer (PaddleOCR's default rec_image_shape 3,48,320). */
export const PADDLE_REC_MAX_WIDTH = 320;

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** Decodes a PNG/JPEG file (or bytes) to RGBA. `source` names it in errors. */
export async function loadImage(input: string | Buffer, source = typeof input === 'string' ? input : '<buffer>'): Promise<RgbaImage> {
  let img;
  try {
    img = await decodeImage(typeof input === 'string' ? readFileSync(input) : input);
  } catch (err) {
    throw new Error(`${source}: cannot decode image (${(err as Error).message})`);
  }
  if (!img.width || !img.height) throw new Error(`${source}: cannot decode image (empty)`);
  const canvas = createCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const pixels = ctx.getImageData(0, 0, img.width, img.height);
  return { width: img.width, height: img.height, data: new Uint8ClampedArray(pixels.data) };
}

/** Bilinear resize of an RGBA image (canvas drawImage with high-quality smoothing). */
export function resizeImage(image: RgbaImage, width: number, height: number): RgbaImage {
  if (width === image.width && height === image.height) return image;
  const src = createCanvas(image.width, image.height);
  const sctx = src.getContext('2d');
  const id = sctx.createImageData(image.width, image.height);
  id.data.set(image.data);
  sctx.putImageData(id, 0, 0);
  const dst = createCanvas(width, height);
  const ctx = dst.getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(src, 0, 0, image.width, image.height, 0, 0, width, height);
  return { width, height, data: new Uint8ClampedArray(ctx.getImageData(0, 0, width, height).data) };
}

/** Target size: fixed, or (width −1) the plan's height with the aspect ratio kept, capped at `maxWidth`. */
export function targetSize(
  image: { width: number; height: number },
  plan: ImageInputPlan,
  maxWidth = Infinity,
): { width: number; height: number } {
  if (plan.width > 0) return { width: plan.width, height: plan.height };
  const w = Math.max(1, Math.min(maxWidth, Math.ceil((plan.height * image.width) / image.height)));
  return { width: w, height: plan.height };
}

/**
 * Resizes and normalizes: value = (pixel/255 − mean[c]) / std[c], channels in the plan's order
 * (rgb or bgr), laid out NCHW or NHWC with batch 1.
 */
export function preprocessImage(image: RgbaImage, plan: ImageInputPlan, maxWidth = Infinity): ImageTensor {
  if (plan.mean.length !== 3 || plan.std.length !== 3)
    throw new Error(`image plan: mean and std need 3 values (got ${plan.mean.length}, ${plan.std.length})`);
  const { width, height } = targetSize(image, plan, maxWidth);
  const img = resizeImage(image, width, height);
  const order = plan.channels === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const out = new Float32Array(3 * width * height);
  const hw = width * height;
  for (let p = 0; p < hw; p++) {
    for (let c = 0; c < 3; c++) {
      const v = (img.data[p * 4 + order[c]] / 255 - plan.mean[c]) / plan.std[c];
      if (plan.layout === 'nchw') out[c * hw + p] = v;
      else out[p * 3 + c] = v;
    }
  }
  return { data: out, dims: plan.layout === 'nchw' ? [1, 3, height, width] : [1, height, width, 3] };
}

/** One labelled image of a data set. `label` is undefined when the set has no labels. */
export interface LabelledImage {
  path: string;
  label?: string;
}

/**
 * Lists an image set: a folder of PNG/JPEG files (sorted by name), labels optionally from a
 * `labels.tsv`-style file with lines `file<TAB>label` (paths relative to the labels file).
 * A labels file given as `path` itself lists the images.
 */
export function listImages(path: string, labelsPath?: string): LabelledImage[] {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new Error(`${path}: no such file or folder`);
  if (st.isFile() && !IMAGE_EXTENSIONS.has(extname(path).toLowerCase())) return readLabels(path);
  const files = st.isDirectory()
    ? readdirSync(path)
        .filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))
        .sort()
        .map((f) => join(path, f))
    : [path];
  if (!files.length) throw new Error(`${path}: the folder holds no .png/.jpg images`);
  if (!labelsPath) return files.map((p) => ({ path: p }));
  const labels = new Map(readLabels(labelsPath).map((l) => [resolve(l.path), l.label]));
  return files.map((p) => {
    const label = labels.get(resolve(p));
    if (label === undefined) throw new Error(`${labelsPath}: no label for ${p}`);
    return { path: p, label };
  });
}

/** Reads `file<TAB>label` lines (PaddleOCR's rec label format); blank lines and `#` comments are skipped. */
export function readLabels(labelsPath: string): LabelledImage[] {
  const base = dirname(labelsPath);
  const out: LabelledImage[] = [];
  readFileSync(labelsPath, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim() || line.startsWith('#')) return;
      const tab = line.indexOf('\t');
      if (tab < 0) throw new Error(`${labelsPath}:${i + 1}: expected "file<TAB>label"`);
      out.push({ path: resolve(base, line.slice(0, tab)), label: line.slice(tab + 1).replace(/\r$/, '') });
    });
  if (!out.length) throw new Error(`${labelsPath}: no labelled images`);
  return out;
}
