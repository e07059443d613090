/**
 * Deterministic text-line rendering (black text on white) with @napi-rs/canvas and the DejaVu fonts
 * from the npm package `dejavu-fonts-ttf`, to make labelled OCR data on a fresh, offline machine.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import type { RgbaImage } from './images';

/** DejaVu faces shipped by `dejavu-fonts-ttf` that the renderer registers. */
export const DEJAVU_FACES = ['DejaVuSans', 'DejaVuSerif', 'DejaVuSansMono', 'DejaVuSans-Bold'] as const;
export type DejaVuFace = (typeof DEJAVU_FACES)[number];

let registered = false;

/** Registers the DejaVu TTFs with GlobalFonts once; each face under its own family name. */
export function registerDejaVuFonts(): void {
  if (registered) return;
  const req = typeof require === 'function' ? require : createRequire(join(process.cwd(), 'index.js'));
  const dir = join(dirname(req.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  for (const face of DEJAVU_FACES) {
    const file = join(dir, `${face}.ttf`);
    if (!existsSync(file)) throw new Error(`${file}: font missing (is dejavu-fonts-ttf installed?)`);
    if (!GlobalFonts.registerFromPath(file, `Lowbit ${face}`)) throw new Error(`${file}: could not register font`);
  }
  registered = true;
}

/** Rendering options; all defaults give 48-pixel-high lines that PP-OCRv4 reads well. */
export interface TextLineOptions {
  face?: DejaVuFace;
  /** Font size in pixels. */
  size?: number;
  /** Margin around the text in pixels. */
  margin?: number;
  /** Output height; width follows the text. */
  height?: number;
}

/** Renders one text line to an RGBA image (white background, black text). */
export function renderTextLine(text: string, options: TextLineOptions = {}): RgbaImage {
  registerDejaVuFonts();
  const { face = 'DejaVuSans', size = 32, margin = 8, height = 48 } = options;
  const font = `${size}px "Lowbit ${face}"`;
  const probe = createCanvas(8, 8).getContext('2d');
  probe.font = font;
  const width = Math.ceil(probe.measureText(text).width) + 2 * margin;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#000000';
  ctx.font = font;
  ctx.textBaseline = 'middle';
  ctx.fillText(text, margin, height / 2);
  return { width, height, data: new Uint8ClampedArray(ctx.getImageData(0, 0, width, height).data) };
}

/** Encodes an RGBA image as PNG bytes. */
export function encodePng(image: RgbaImage): Buffer {
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext('2d');
  const id = ctx.createImageData(image.width, image.height);
  id.data.set(image.data);
  ctx.putImageData(id, 0, 0);
  return canvas.toBuffer('image/png');
}

/** A rendered text page: lines stacked top to bottom, for detection models. */
export function renderTextPage(lines: string[], options: TextLineOptions & { width?: number } = {}): RgbaImage {
  registerDejaVuFonts();
  const { face = 'DejaVuSans', size = 28, margin = 24, width = 640 } = options;
  const lineHeight = Math.round(size * 1.8);
  const height = Math.ceil((2 * margin + lines.length * lineHeight) / 32) * 32;
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = '#000000';
  ctx.font = `${size}px "Lowbit ${face}"`;
  ctx.textBaseline = 'top';
  lines.forEach((line, i) => ctx.fillText(line, margin, margin + i * lineHeight));
  return { width, height, data: new Uint8ClampedArray(ctx.getImageData(0, 0, width, height).data) };
}
