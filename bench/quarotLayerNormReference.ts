/**
 * `npm run bench -- rotation-ln`: the LayerNorm path of the rotation against QuaRot's own
 * `fuse_layer_norms` (OPT path, bench/quarotLayerNormReference.py, run in place with /usr/bin/python3
 * and Debian's torch), on the GPT-2-style LayerNorm fixture with its own (untied) head. Ours runs with
 * the identity as R, so what is compared is exactly the LayerNorm step: centring (embeddings,
 * out_proj / fc2 and their biases) and the γ / β fusion into q/k/v, fc1 and the head. Also prints
 * max |Δlogit| of the full rotation in onnxruntime, and RTN W4 / GPTQ W3 (per channel) with and without
 * rotation on the fixture with synthetic γ outlier channels. The QuaRot part is skipped, saying why,
 * without QuaRot or torch.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type OnnxModel } from '../engine/onnx';
import { rotateModel } from '../engine/transforms/rotation';
import type { Rotation } from '../engine/transforms/rotationHadamard';
import { buildLayerNormDecoder, type LayerNormDecoder } from '../test/fixtures/llm/layerNormDecoder';
import { maxAbsDiff, modelLogits } from '../test/fixtures/llm';
import { quarotFolder } from './quarotReference';
import { runJob } from '../engine/job';
import { layerPlans, storiesPlan } from '../test/integration/engine/planFixture';

const PYTHON = '/usr/bin/python3';
/** Fixture names (per block) → OPT module names. */
const LINEARS: [string, string][] = [
  ['attn.q_proj', 'self_attn.q_proj'],
  ['attn.k_proj', 'self_attn.k_proj'],
  ['attn.v_proj', 'self_attn.v_proj'],
  ['attn.out_proj', 'self_attn.out_proj'],
  ['mlp.c_fc', 'fc1'],
  ['mlp.c_proj', 'fc2'],
];

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

const identity = (n: number): Rotation => ({
  n,
  seed: -1,
  construction: 'identity',
  apply() {},
  dense: () => new Float64Array(n * n).map((_, k) => (k % (n + 1) ? 0 : 1)),
});

/** A stored tensor of `m` by name, and its dims. */
function tensor(m: OnnxModel, name: string): { data: Float32Array; dims: number[] } {
  const ref = m.consts.resolve(name);
  if (!ref) throw new Error(`${m.path}: no tensor '${name}'`);
  const v = m.consts.value(ref);
  return { data: Float32Array.from(v.data), dims: v.dims.slice() };
}

/** The fixture's weights by OPT name, in torch layout ([out, in] Linear weights). */
function optWeights(m: OnnxModel, f: LayerNormDecoder, norms = true): Map<string, { data: Float32Array; dims: number[] }> {
  const out = new Map<string, { data: Float32Array; dims: number[] }>();
  out.set('embed_tokens', tensor(m, 'transformer.wte.weight'));
  out.set('embed_positions', tensor(m, 'transformer.wpe.weight'));
  for (let l = 0; l < f.nLayers; l++) {
    for (const [k, [ours, opt]] of LINEARS.entries()) {
      const w = tensor(m, f.linears[l * LINEARS.length + k]);
      out.set(`layers.${l}.${opt}.weight`, { data: transpose(w.data, w.dims[0], w.dims[1]), dims: [w.dims[1], w.dims[0]] });
      out.set(`layers.${l}.${opt}.bias`, tensor(m, `transformer.h.${l}.${ours}.bias`));
    }
    if (norms)
      for (const [ours, opt] of [
        ['ln_1', 'self_attn_layer_norm'],
        ['ln_2', 'final_layer_norm'],
      ])
        for (const p of ['weight', 'bias']) out.set(`layers.${l}.${opt}.${p}`, tensor(m, `transformer.h.${l}.${ours}.${p}`));
  }
  if (norms) for (const p of ['weight', 'bias']) out.set(`final_layer_norm.${p}`, tensor(m, `transformer.ln_f.${p}`));
  const head = tensor(m, 'lm_head.weight');
  out.set('lm_head.weight', { data: transpose(head.data, head.dims[0], head.dims[1]), dims: [head.dims[1], head.dims[0]] });
  return out;
}

/** Our rotated (R = I) model's weights by OPT name; the head's new bias is the Add the rewrite inserted. */
function oursAsOpt(m: OnnxModel, f: LayerNormDecoder): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of optWeights(m, f, false)) out.set(k, v.data);
  const add = m.graph.node.find((n) => n.opType === 'Add' && n.output[0] === 'logits');
  if (!add) throw new Error('the rewrite did not give the head a bias');
  out.set('lm_head.bias', tensor(m, add.input[1]).data);
  return out;
}

async function logitDelta(path: string, rotated: Uint8Array): Promise<number> {
  const ids = Array.from({ length: 32 }, (_, i) => (i * 29 + 7) % 512);
  return maxAbsDiff(await modelLogits(path, ids), await modelLogits(rotated, ids));
}

/** RTN W4 / GPTQ W3 per channel on the fixture with 3 γ outlier channels (×20), without and with rotation (seeds 0–2). */
async function quality(dir: string): Promise<void> {
  const f = buildLayerNormDecoder(dir, {
    norm: 'layernorm',
    tied: false,
    gammaOutliers: { count: 3, factor: 20 },
    fileName: 'outliers.onnx',
  });
  const layers = (await loadModel(f.path)).layers.filter((l) => l.quantizable && l.op !== 'Gather').map((l) => l.name);
  console.log('| config | rotation | KL mean | top-1 agree |');
  console.log('|---|---|---|---|');
  for (const [method, bits] of [
    ['rtn', 4],
    ['gptq', 3],
  ] as const)
    for (const seed of [undefined, 0, 1, 2]) {
      const p = storiesPlan({
        modelPath: f.path,
        layers: layerPlans(method, bits, -1, layers),
        format: 'fake',
        ...(seed === undefined ? {} : { rotation: { method: 'hadamard', seed } }),
      });
      if (p.calibration.kind === 'text') p.calibration = { ...p.calibration, samples: 16, sequenceLength: 128 };
      if (p.evaluation.kind === 'text')
        p.evaluation = { ...p.evaluation, samples: 16, sequenceLength: 128, metrics: ['kl_divergence', 'top1_agreement'] };
      const r = await runJob(p);
      const top1 = r.metrics.top1_agreement;
      console.log(
        `| ${method} w${bits} pc | ${seed === undefined ? 'none' : `seed ${seed}`} | ${r.metrics.kl_divergence?.mean.toFixed(4)} | ${top1 === undefined ? '—' : `${(100 * top1).toFixed(1)}%`} |`,
      );
    }
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-bench-rot-ln-'));
  try {
    const f = buildLayerNormDecoder(dir, { norm: 'layernorm', tied: false });
    const m = await loadModel(f.path);
    for (const seed of [0, 1, 2])
      console.log(
        `full rotation, seed ${seed}: max |Δlogit| ${(await logitDelta(f.path, rotateModel(m, { seed }).model.serialize())).toExponential(2)}`,
      );

    await quality(dir);
    const q = quarotFolder();
    const py = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
    if (!q.folder || py.status !== 0) {
      console.log(`QuaRot LayerNorm reference: skipped (${q.why ?? `torch is not installed for ${PYTHON}`})`);
      return;
    }
    const inDir = join(dir, 'opt-weights'),
      refDir = join(dir, 'quarot-out');
    mkdirSync(inDir);
    const tensors: Record<string, number[]> = {};
    for (const [k, v] of optWeights(m, f)) {
      writeFileSync(join(inDir, `${k}.bin`), Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength));
      tensors[k] = v.dims;
    }
    writeFileSync(
      join(inDir, 'manifest.json'),
      JSON.stringify({ tensors, config: { dim: f.dim, layers: f.nLayers, ffn: 4 * f.dim, eps: 1e-5 } }),
    );
    const r = spawnSync(PYTHON, [join(__dirname, 'quarotLayerNormReference.py'), q.folder, inDir, refDir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`quarotLayerNormReference.py failed (${r.status}):\n${r.stderr}`);
    console.log(`QuaRot fuse_layer_norms (OPT path) ran in place: ${r.stdout.trim().split('\n').pop()}`);
    const ours = oursAsOpt(rotateModel(m, { seed: 0, rotation: identity(f.dim) }).model, f);
    // Per tensor group: max |ours − QuaRot|, and max |original − QuaRot| (what the fusion changed; the head had no bias).
    const original = optWeights(m, f, false);
    const groups = new Map<string, [number, number]>();
    for (const [k, v] of ours) {
      const b = readFileSync(join(refDir, `${k}.bin`));
      const ref = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      const o = original.get(k)?.data ?? new Float32Array(ref.length);
      let d = 0,
        changed = 0;
      for (let i = 0; i < v.length; i++) {
        d = Math.max(d, Math.abs(v[i] - ref[i]));
        changed = Math.max(changed, Math.abs(o[i] - ref[i]));
      }
      const g = k.replace(/^layers\.\d+\./, '');
      const [d0, c0] = groups.get(g) ?? [0, 0];
      groups.set(g, [Math.max(d0, d), Math.max(c0, changed)]);
    }
    console.log('| tensor | max \\|ours − QuaRot\\| | max \\|original − QuaRot\\| |');
    console.log('|---|---|---|');
    for (const [g, [d, c]] of groups) console.log(`| ${g} | ${d.toExponential(1)} | ${c.toExponential(1)} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
