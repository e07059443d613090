/**
 * A random-weight Llama-shaped decoder written as ONNX with external data (`<model>.data`), fp32 or
 * fp16, for the scale bench and the streaming tests. Per layer: RMSNorm → q/k/v (grouped-query: K/V
 * heads repeated) → causal softmax attention → o, residual; RMSNorm → SwiGLU (w1 gate, w3 up, w2
 * down), residual. Then a final RMSNorm and the LM head. No rotary embedding: the weights are random,
 * and it adds no weights. Weights are N(0, 0.02²)-like (uniform with that spread), from a seed.
 * Weights are written in chunks, so generating a 4.4 GB model needs little memory.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import {
  encodeModel,
  tensorTypeBytes,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../engine/onnx/onnxProto';
import { DT, floatToHalf, makeTensor } from '../engine/onnx/tensor';

export interface LlamaShape {
  layers: number;
  hidden: number;
  ffn: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  /** Sequence length the causal mask is built for (the model runs only at this length). */
  seq: number;
  dtype: 'float32' | 'float16';
}

/** TinyLlama-1.1B (22 layers, d 2048, ffn 5632, 32 heads, 4 KV heads, vocab 32000). */
export const TINYLLAMA: Omit<LlamaShape, 'seq' | 'dtype'> = { layers: 22, hidden: 2048, ffn: 5632, heads: 32, kvHeads: 4, vocab: 32000 };

/** Parameters of the weights (embedding, layers, norms, head). */
export function llamaParams(s: Omit<LlamaShape, 'seq' | 'dtype'>): number {
  const hd = s.hidden / s.heads,
    kv = s.kvHeads * hd;
  const layer = s.hidden * (2 * s.hidden + 2 * kv) + 3 * s.hidden * s.ffn + 2 * s.hidden;
  return 2 * s.vocab * s.hidden + s.layers * layer + s.hidden;
}

function attrInt(name: string, i: number): AttributeProto {
  return { name, type: 2, i, floats: [], ints: [], strings: [], tensors: [], graphs: [], unknown: [] };
}
function attrInts(name: string, ints: number[]): AttributeProto {
  return { name, type: 7, floats: [], ints, strings: [], tensors: [], graphs: [], unknown: [] };
}

/** Writes `<path>` and `<path>.data`; returns the bytes of both. */
export function writeLlama(path: string, s: LlamaShape, seed = 1): { modelBytes: number; dataBytes: number; params: number } {
  const elem = s.dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT;
  const esize = s.dtype === 'float16' ? 2 : 4;
  const hd = s.hidden / s.heads,
    kvDim = s.kvHeads * hd,
    rep = s.heads / s.kvHeads;
  const dataName = `${basename(path)}.data`;
  const fd = openSync(`${path}.data`, 'w');
  let offset = 0;
  let state = seed >>> 0 || 1;
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  const n = (opType: string, input: string[], output: string, attribute: AttributeProto[] = []) => {
    nodes.push({ opType, input, output: [output], name: output, attribute, unknown: [] });
    return output;
  };
  const external = (name: string, dims: number[], fill: (out: Float32Array, start: number) => void) => {
    const count = dims.reduce((a, b) => a * b, 1);
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad) {
      writeSync(fd, new Uint8Array(pad));
      offset += pad;
    }
    const chunk = 1 << 20;
    const buf = new Float32Array(chunk);
    const half = new Uint16Array(chunk);
    for (let start = 0; start < count; start += chunk) {
      const len = Math.min(chunk, count - start);
      const view = buf.subarray(0, len);
      fill(view, start);
      if (esize === 2) {
        for (let i = 0; i < len; i++) half[i] = floatToHalf(view[i]);
        writeSync(fd, half.subarray(0, len));
      } else writeSync(fd, view);
    }
    const t = makeTensor(name, elem, dims, new Uint8Array(0));
    delete t.rawData;
    t.dataLocation = 1;
    t.externalData = [
      { key: 'location', value: dataName },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(count * esize) },
    ];
    offset += count * esize;
    inits.push(t);
    return name;
  };
  const random = (out: Float32Array) => {
    for (let i = 0; i < out.length; i++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      out[i] = ((state >>> 0) / 4294967296 - 0.5) * 0.07; // uniform, std 0.02
    }
  };
  const ones = (out: Float32Array) => out.fill(1);
  const inline = (name: string, dims: number[], values: number[], type: number = elem) => {
    const bytes =
      type === DT.INT64
        ? new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer)
        : type === DT.FLOAT16
          ? new Uint8Array(Uint16Array.from(values, floatToHalf).buffer)
          : new Uint8Array(Float32Array.from(values).buffer);
    inits.push(makeTensor(name, type, dims, bytes));
    return name;
  };
  const eps = inline('eps', [], [1e-5]);
  const scale = inline('attn_scale', [], [1 / Math.sqrt(hd)]);
  const maskValues: number[] = [];
  for (let i = 0; i < s.seq; i++) for (let j = 0; j < s.seq; j++) maskValues.push(j > i ? (esize === 2 ? -65504 : -1e9) : 0);
  const mask = inline('causal_mask', [s.seq, s.seq], maskValues);
  const shapeQ = inline('shape_q', [4], [0, 0, s.heads, hd], DT.INT64);
  const shapeKv = inline('shape_kv', [5], [0, 0, s.kvHeads, 1, hd], DT.INT64);
  const expandKv = inline('expand_kv', [5], [1, 1, s.kvHeads, rep, hd], DT.INT64);
  const shapeOut = inline('shape_out', [3], [0, 0, s.hidden], DT.INT64);
  const norm = (x: string, gamma: string, p: string) => {
    const sq = n('Mul', [x, x], `${p}/sq`);
    const mean = n('ReduceMean', [sq], `${p}/mean`, [attrInts('axes', [-1]), attrInt('keepdims', 1)]);
    const rs = n('Sqrt', [n('Add', [mean, eps], `${p}/add_eps`)], `${p}/rms`);
    return n('Mul', [n('Div', [x, rs], `${p}/normed`), gamma], `${p}/out`);
  };
  const embed = external('embed_tokens', [s.vocab, s.hidden], random);
  let h = n('Gather', [embed, 'input_ids'], '/embed/out');
  for (let l = 0; l < s.layers; l++) {
    const p = `/layers.${l}`,
      w = `layers.${l}`;
    const x = norm(h, external(`${w}.attention_norm`, [s.hidden], ones), `${p}/attention_norm`);
    const q = n('MatMul', [x, external(`${w}.wq`, [s.hidden, s.hidden], random)], `${p}/q`);
    const k = n('MatMul', [x, external(`${w}.wk`, [s.hidden, kvDim], random)], `${p}/k`);
    const v = n('MatMul', [x, external(`${w}.wv`, [s.hidden, kvDim], random)], `${p}/v`);
    const heads = (t: string, name: string) => n('Transpose', [t], `${p}/${name}_t`, [attrInts('perm', [0, 2, 1, 3])]);
    const repeat = (t: string, name: string) =>
      n(
        'Reshape',
        [n('Expand', [n('Reshape', [t, shapeKv], `${p}/${name}_kv`), expandKv], `${p}/${name}_rep`), shapeQ],
        `${p}/${name}_heads`,
      );
    const qh = heads(n('Reshape', [q, shapeQ], `${p}/q_heads`), 'q');
    const kh = n('Transpose', [repeat(k, 'k')], `${p}/k_t`, [attrInts('perm', [0, 2, 3, 1])]);
    const vh = heads(repeat(v, 'v'), 'v');
    const scores = n('Add', [n('Mul', [n('MatMul', [qh, kh], `${p}/qk`), scale], `${p}/scaled`), mask], `${p}/masked`);
    const attn = n('MatMul', [n('Softmax', [scores], `${p}/probs`, [attrInt('axis', -1)]), vh], `${p}/attn`);
    const merged = n('Reshape', [n('Transpose', [attn], `${p}/attn_t`, [attrInts('perm', [0, 2, 1, 3])]), shapeOut], `${p}/attn_merged`);
    h = n('Add', [h, n('MatMul', [merged, external(`${w}.wo`, [s.hidden, s.hidden], random)], `${p}/o`)], `${p}/residual_attn`);
    const y = norm(h, external(`${w}.ffn_norm`, [s.hidden], ones), `${p}/ffn_norm`);
    const gate = n('MatMul', [y, external(`${w}.w1`, [s.hidden, s.ffn], random)], `${p}/gate`);
    const up = n('MatMul', [y, external(`${w}.w3`, [s.hidden, s.ffn], random)], `${p}/up`);
    const act = n('Mul', [n('Mul', [gate, n('Sigmoid', [gate], `${p}/sigmoid`)], `${p}/silu`), up], `${p}/swiglu`);
    h = n('Add', [h, n('MatMul', [act, external(`${w}.w2`, [s.ffn, s.hidden], random)], `${p}/down`)], `${p}/residual_mlp`);
  }
  const f = norm(h, external('norm', [s.hidden], ones), '/norm');
  n('MatMul', [f, external('output', [s.hidden, s.vocab], random)], 'logits');
  closeSync(fd);
  const vi = (name: string, type: number, dims: (number | string)[]): ValueInfoProto => ({
    name,
    typeRaw: tensorTypeBytes(type, dims),
    type: { elemType: type, dims },
    unknown: [],
  });
  const bytes = encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17, unknown: [] }],
    producerName: 'lowbit-bench',
    unknown: [],
    graph: {
      name: 'llama',
      node: nodes,
      initializer: inits,
      valueInfo: [],
      unknown: [],
      input: [vi('input_ids', DT.INT64, ['batch', s.seq])],
      output: [vi('logits', elem, ['batch', s.seq, s.vocab])],
    },
  });
  writeFileSync(path, bytes);
  return { modelBytes: bytes.length, dataBytes: offset, params: llamaParams(s) };
}
