/**
 * QuaRot's own rotation code (github.com/spcl/QuaRot, fake_quant/rotation_utils.py) run in place on
 * stories260K by bench/quarotReference.py, with /usr/bin/python3 and Debian's python3-torch, and
 * compared with ours: given QuaRot's Q, our offline rotation must produce QuaRot's weights; QuaRot's
 * full rotation (plus its head-wise V/O and online o_proj / down_proj Hadamards, which we express as
 * inserted MatMuls) is written as an ONNX model that the quality bench then quantizes like ours.
 * The QuaRot checkout comes from LOWBIT_QUAROT_DIR (a folder holding fake_quant/) or the fetched mirror
 * /work/.mirror/spcl+QuaRot/repo (a bare git dir, extracted to a temp folder). When either the
 * checkout or torch is missing, `why` says so plainly and nothing runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel, type OnnxModel } from '../engine/onnx';
import { EditState } from '../engine/transforms/editState';
import { rotateModel } from '../engine/transforms/rotation';
import type { Rotation } from '../engine/transforms/rotationHadamard';

const PYTHON = '/usr/bin/python3';
const MIRROR = '/work/.mirror/spcl+QuaRot/repo';

/** stories260K's ONNX weight names → Hugging Face Llama names (Linear weights are the transpose). */
const LINEARS: [string, string][] = [
  ['wq', 'self_attn.q_proj'],
  ['wk', 'self_attn.k_proj'],
  ['wv', 'self_attn.v_proj'],
  ['wo', 'self_attn.o_proj'],
  ['w1', 'mlp.gate_proj'],
  ['w3', 'mlp.up_proj'],
  ['w2', 'mlp.down_proj'],
];

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

/** Row-major product [n, k]·[k, m]. */
function matmul(a: Float32Array, b: Float32Array, n: number, k: number, m: number): Float32Array {
  const c = new Float32Array(n * m);
  for (let i = 0; i < n; i++)
    for (let t = 0; t < k; t++) {
      const x = a[i * k + t];
      if (x) for (let j = 0; j < m; j++) c[i * m + j] += x * b[t * m + j];
    }
  return c;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The QuaRot fake_quant folder, or why there is none. */
export function quarotFolder(): { folder?: string; why?: string } {
  const own = process.env.LOWBIT_QUAROT_DIR;
  if (own) {
    const f = join(resolve(own), 'fake_quant');
    return existsSync(join(f, 'rotation_utils.py')) ? { folder: f } : { why: `${f}/rotation_utils.py does not exist (LOWBIT_QUAROT_DIR)` };
  }
  if (!existsSync(MIRROR)) return { why: `no QuaRot checkout: set LOWBIT_QUAROT_DIR or fetch github:spcl/QuaRot to ${MIRROR}` };
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-quarot-'));
  execFileSync('sh', ['-c', `git -C '${MIRROR}' archive HEAD fake_quant | tar -x -C '${dir}'`]);
  return { folder: join(dir, 'fake_quant') };
}

function torchMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} does not exist`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `torch/numpy are not installed for ${PYTHON} (apt-get install python3-torch)`;
}

interface Tensors {
  get(name: string): Float32Array;
  dims(name: string): number[];
}

function readTensors(dir: string): Tensors {
  const man = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { tensors: Record<string, number[]> };
  return {
    get: (n) => {
      const b = readFileSync(join(dir, `${n}.bin`));
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    },
    dims: (n) => man.tensors[n],
  };
}

/** Writes stories260K's weights in the Hugging Face layout for quarotReference.py. */
function writeHfWeights(model: OnnxModel, dir: string, nLayers: number): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, number[]> = {};
  const put = (name: string, data: Float32Array, dims: number[]) => {
    writeFileSync(join(dir, `${name}.bin`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    tensors[name] = dims;
  };
  const w = (n: string) => model.getWeight(n);
  const onnx = (n: string) => {
    const ref = model.consts.resolve(n)!;
    return model.consts.value(ref);
  };
  put('embed_tokens', Float32Array.from(w('tok_embeddings').data), [512, 64]);
  for (let i = 0; i < nLayers; i++) {
    for (const [ours, hf] of LINEARS) {
      const { data, dims } = onnx(`layers.${i}.${ours}`);
      put(`layers.${i}.${hf.split('.')[1]}`, transpose(Float32Array.from(data), dims[0], dims[1]), [dims[1], dims[0]]);
    }
    put(`layers.${i}.input_layernorm`, Float32Array.from(onnx(`layers.${i}.attention_norm`).data), [64]);
    put(`layers.${i}.post_attention_layernorm`, Float32Array.from(onnx(`layers.${i}.ffn_norm`).data), [64]);
  }
  put('norm', Float32Array.from(onnx('norm').data), [64]);
  const head = onnx('output');
  put('lm_head', transpose(Float32Array.from(head.data), head.dims[0], head.dims[1]), [head.dims[1], head.dims[0]]);
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ tensors, config: { dim: 64, heads: 8, kv_dim: 32, hidden: 172, vocab: 512, layers: nLayers, eps: 1e-5 } }),
  );
}

/** A fixed dense rotation (x ← x·Q). */
export function denseRotation(q: Float32Array, n: number, construction = 'QuaRot random_hadamard_matrix'): Rotation {
  return {
    n,
    seed: -1,
    construction,
    apply(v) {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) if (v[i]) for (let j = 0; j < n; j++) out[j] += v[i] * q[i * n + j];
      v.set(out);
    },
    dense: () => Float64Array.from(q),
  };
}

export interface QuarotComparison {
  why?: string;
  torch?: string;
  /** Max |ours − QuaRot| per weight group, given QuaRot's Q (offline parts; wv/wo/w2 after removing QuaRot's extra Hadamards). */
  weightDiff?: Record<string, number>;
  /** QuaRot's embedding is (E − mean_row(E))·Q (fuse_layer_norms centres it, a LayerNorm step); ours E·Q. */
  embeddingMeanShift?: number;
  /** Paths of the models written: QuaRot's full rotation, as QuaRot writes it and with the embedding mean kept. */
  quarotModel?: string;
  quarotModelMeanKept?: string;
}

/** Runs QuaRot's rotation on stories260K (seed `seed`) and compares it with ours; writes the two QuaRot models into `outDir`. */
export async function compareWithQuarot(storiesModel: string, seed: number, outDir: string): Promise<QuarotComparison> {
  const t = torchMissing();
  if (t) return { why: t };
  const q = quarotFolder();
  if (!q.folder) return { why: q.why };
  const model = await loadModel(storiesModel);
  const nLayers = 5;
  const inDir = join(outDir, 'hf-weights'),
    refDir = join(outDir, 'quarot-out');
  writeHfWeights(model, inDir, nLayers);
  const r = spawnSync(PYTHON, [join(__dirname, 'quarotReference.py'), q.folder, inDir, String(seed), refDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`quarotReference.py failed (${r.status}):\n${r.stderr}`);
  const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string };
  const ref = readTensors(refDir);
  const Q = ref.get('Q');
  const rot = denseRotation(Q, 64);

  // 1. Offline: our rotation with QuaRot's Q against QuaRot's weights.
  const ours = rotateModel(model, { seed, rotation: rot }).model;
  const oursOnnx = (n: string) => {
    const { data, dims } = ours.consts.value(ours.consts.resolve(n)!);
    return { data: Float32Array.from(data), dims };
  };
  const Ho = ref.get('H_o_in'),
    Hd = ref.get('H_down_in'),
    Hv = ref.get('H_v_out');
  const diff: Record<string, number> = {};
  const note = (k: string, d: number) => (diff[k] = Math.max(diff[k] ?? 0, d));
  for (let i = 0; i < nLayers; i++) {
    for (const [o, hf] of LINEARS) {
      const theirs = ref.get(`layers.${i}.${hf.split('.')[1]}`);
      const { data, dims } = oursOnnx(`layers.${i}.${o}`);
      let mine = transpose(data, dims[0], dims[1]); // torch layout [out, in]
      const [out, inn] = [dims[1], dims[0]];
      if (o === 'wv') mine = matmul(Hv, mine, out, out, inn);
      if (o === 'wo') mine = matmul(mine, Ho, out, inn, inn);
      if (o === 'w2') mine = matmul(mine, Hd, out, inn, inn);
      note(o, maxAbsDiff(mine, theirs));
    }
  }
  const head = oursOnnx('output');
  note('output', maxAbsDiff(transpose(head.data, head.dims[0], head.dims[1]), ref.get('lm_head')));
  const E = oursOnnx('tok_embeddings').data,
    Et = ref.get('embed_tokens');
  // Their E' = (E − mean)·Q = E·Q − mean·(1ᵀQ): compare after adding back the row mean's image.
  const E0 = model.getWeight('tok_embeddings').data;
  const colSum = new Float32Array(64);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 64; j++) colSum[j] += Q[i * 64 + j];
  let meanShift = 0,
    embDiff = 0;
  for (let v = 0; v < 512; v++) {
    let m = 0;
    for (let j = 0; j < 64; j++) m += E0[v * 64 + j];
    m /= 64;
    meanShift = Math.max(meanShift, Math.abs(m));
    for (let j = 0; j < 64; j++) embDiff = Math.max(embDiff, Math.abs(E[v * 64 + j] - m * colSum[j] - Et[v * 64 + j]));
  }
  note('tok_embeddings (mean removed)', embDiff);

  // 2. QuaRot's full rotation as ONNX: our graph with online MatMuls before wo and w2, QuaRot's weights.
  const shell = rotateModel(model, { seed, rotation: rot, online: 'all' }).model;
  const write = (useTheirEmbedding: boolean, path: string) => {
    const st = new EditState(shell);
    const set = (name: string, data: Float32Array) => {
      const l = shell.layers.find((x) => x.ref.source === name && x.ref.chain.length === 0);
      if (!l) throw new Error(`${shell.path}: no layer stores '${name}'`);
      const v = st.read(l.nodeRef, l.weightInput);
      if (v.data.length !== data.length) throw new Error(`${name}: ${v.data.length} values, QuaRot gives ${data.length}`);
      st.write(l.nodeRef, l.weightInput, { ...v, data }, true);
    };
    // B = I₈ ⊗ hᵀ (per-head V rotation on the 64-wide context), online before wo: M = Bᵀ·H_o.
    const B = new Float32Array(64 * 64);
    for (let hd = 0; hd < 8; hd++)
      for (let a = 0; a < 8; a++) for (let b = 0; b < 8; b++) B[(hd * 8 + a) * 64 + hd * 8 + b] = Hv[b * 32 + a];
    const Mo = matmul(transpose(B, 64, 64), Ho, 64, 64, 64);
    for (let i = 0; i < nLayers; i++) {
      for (const [o, hf] of LINEARS) {
        const theirs = ref.get(`layers.${i}.${hf.split('.')[1]}`);
        const [out, inn] = ref.dims(`layers.${i}.${hf.split('.')[1]}`);
        set(`layers.${i}.${o}`, transpose(theirs, out, inn));
      }
      set(`layers.${i}.wo_online_rotation`, Mo);
      set(`layers.${i}.w2_online_rotation`, Hd);
    }
    const lm = ref.get('lm_head');
    set('output', transpose(lm, 512, 64));
    set('tok_embeddings', useTheirEmbedding ? Et : E);
    writeFileSync(path, st.result().serialize());
  };
  const quarotModel = join(outDir, 'quarot.onnx'),
    quarotModelMeanKept = join(outDir, 'quarot-mean-kept.onnx');
  write(true, quarotModel);
  write(false, quarotModelMeanKept);
  return { torch: info.torch, weightDiff: diff, embeddingMeanShift: meanShift, quarotModel, quarotModelMeanKept };
}
