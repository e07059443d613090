/**
 * QuaRot's offline rotation of the residual stream (Ashkboos et al. 2024, §4 step 1), found from the
 * graph and applied to a copy of the model:
 *
 * 1. The stream starts at the token embedding (a Gather of a [vocab, d] table by a graph input) and
 *    runs through residual Adds (or the sum output of SkipSimplifiedLayerNormalization).
 * 2. Every RMSNorm reading it (decomposed Pow/ReduceMean/Add/Sqrt/Reciprocal|Div/Mul/Mul γ, or
 *    SimplifiedLayerNormalization / SkipSimplifiedLayerNormalization) has its γ folded into the
 *    linears it feeds (W_in ← diag(γ)·W_in) and set to 1. RMSNorm without γ commutes with an
 *    orthogonal R (‖x·R‖ = ‖x‖). LayerNorm models (LayerNormalization, SkipLayerNormalization, torch's
 *    decomposed form) are made so first (streamLayerNorm.ts, layerNormRewrite.ts): the stream is
 *    centred, β folds into the readers' biases, and each LayerNorm becomes an RMSNorm.
 * 3. With R the seeded randomized Hadamard (rotationHadamard.ts), x ← x·R on the whole stream:
 *    E ← E·R (embedding rows), W_out ← W_out·R and b ← b·R for every linear writing the stream,
 *    W_in ← Rᵀ·W_in for every linear reading it (the LM head too). ONNX MatMul weights are [in, out]
 *    (y = x·W); Gemm with transB stores Wᵀ, so the sides swap.
 *
 * The rotated model computes the same function in exact arithmetic. Anything else reading the stream
 * (a post-LN norm, a graph output, an op we do not know) makes the model not rotatable:
 * `findRotationPlan` says which node and why, and nothing is changed.
 */
import type { NodeProto } from '../onnx/onnxProto';
import type { OnnxModel } from '../onnx/model';
import type { LayerRecord } from '../onnx/layers';
import { makeNode } from '../export/graphEdit';
import { DT } from '../onnx/tensor';
import { EditState } from './editState';
import { GraphIndex } from './producer';
import { randomizedHadamard, rotateMatrix, type Rotation } from './rotationHadamard';
import { decomposedLayerNorm, fusedLayerNorm, normReaderProblem, type ConstInput, type StreamLayerNorm } from './streamLayerNorm';
import { centreStream, foldLayerNormBetas, inMajor, rewriteLayerNorms } from './layerNormRewrite';
import type { RotationReport } from '../../protocol/report';

/** Why a model cannot be rotated: the node (or tensor) and the reason. */
export class RotationUnsupported extends Error {
  constructor(
    readonly modelPath: string,
    readonly node: string,
    readonly reason: string,
  ) {
    super(node === modelPath ? `${modelPath}: rotation: ${reason}` : `${modelPath}: rotation: ${node}: ${reason}`);
    this.name = 'RotationUnsupported';
  }
}

/** A linear layer touching the stream (weight as a layer record of the model). */
interface StreamLinear {
  layer: string;
  /** Per-input-channel γ folded into it before rotation (norm readers). */
  gamma?: { node: NodeProto; input: number };
  /** A LayerNorm's β, folded into its bias (β·W added, or a new bias) before rotation. */
  beta?: ConstInput;
  /** Writers: an Add after the MatMul holding its bias ([d]). */
  bias?: { node: NodeProto; input: number };
}

/** A norm whose γ is folded and reset to 1. */
interface FoldedNorm {
  node: NodeProto;
  gammaInput: number;
}

/** What rotating the model touches, found from its graph. */
export interface RotationPlan {
  /** Width d of the residual stream (the rotation's order). */
  size: number;
  embedding: { layer: string; node: NodeProto; input: number };
  readers: StreamLinear[];
  writers: StreamLinear[];
  norms: FoldedNorm[];
  /**
   * LayerNorms on the stream (LayerNorm models): the stream is centred first (every writer, table and
   * stream bias x·C), then each becomes an RMSNorm with γ and β folded into its readers.
   */
  layerNorms: StreamLayerNorm[];
  /** Other embedding tables added into the stream (learned positions, token types): rows E·R. */
  tables: ConstInput[];
  /** Constants added to the stream inside a Skip(Simplified)LayerNormalization (its bias input): b·R. */
  streamBiases: ConstInput[];
  /** The stream tensors, first (embedding output) to last. */
  streamTensors: string[];
  /**
   * A reader whose weight is the embedding table itself (a tied LM head, directly or through a
   * Transpose): rotateModel gives it its own copy first, since its rotation (Rᵀ·diag(γ)·Eᵀ) differs
   * from the embedding's (E·R).
   */
  tiedHead?: string;
}

/** What was done (the report's `rotation`, plus the reader/writer lists). */
export interface RotationRecord extends RotationReport {
  /** Layers whose weight became Rᵀ·diag(γ)·W (they read the stream). */
  readers: string[];
  /** Layers whose weight became W·R (they write the stream). */
  writers: string[];
}

/** Kurtosis E[(w−μ)⁴]/σ⁴ and max|w|/rms of a weight (3 and ≈3–4 for a Gaussian; large with outliers). */
export function outlierStats(w: Float32Array): { kurtosis: number; peak: number } {
  let mean = 0;
  for (const x of w) mean += x;
  mean /= w.length || 1;
  let m2 = 0,
    m4 = 0,
    sq = 0,
    peak = 0;
  for (const x of w) {
    const c = x - mean;
    m2 += c * c;
    m4 += c * c * c * c;
    sq += x * x;
    peak = Math.max(peak, Math.abs(x));
  }
  m2 /= w.length || 1;
  m4 /= w.length || 1;
  const rms = Math.sqrt(sq / (w.length || 1));
  return { kurtosis: m2 > 0 ? m4 / (m2 * m2) : 0, peak: rms > 0 ? peak / rms : 0 };
}

const MS_NORMS: Record<string, { gamma: number; inputs: number[]; normed: number; sum?: number; bias?: number }> = {
  SimplifiedLayerNormalization: { gamma: 1, inputs: [0], normed: 0 },
  SkipSimplifiedLayerNormalization: { gamma: 2, inputs: [0, 1], normed: 0, sum: 3, bias: 3 },
};

/** Norms over batch, group or instance: they do not commute with a rotation of the channels. */
const MEAN_NORMS = new Set(['GroupNormalization', 'BatchNormalization', 'InstanceNormalization']);

function meanNormReason(t: string): string {
  return `normalizes the residual stream '${t}' per batch, group or instance; that does not commute with a rotation (use rotation: none)`;
}

function scalarOf(model: OnnxModel, name: string): number | undefined {
  const ref = model.consts.resolve(name);
  if (!ref) return undefined;
  const { data } = model.consts.value(ref);
  return data.length === 1 ? data[0] : undefined;
}

function constLength(model: OnnxModel, name: string): number | undefined {
  const ref = model.consts.resolve(name);
  if (!ref || ref.chain.length) return undefined;
  const d = ref.dims;
  if (!d.length || d.slice(0, -1).some((x) => x !== 1)) return undefined;
  return d[d.length - 1];
}

/** Finds the stream, its norms, readers and writers; throws RotationUnsupported naming the obstacle. */
export function findRotationPlan(model: OnnxModel): RotationPlan {
  const idx = new GraphIndex(model);
  const fail = (node: NodeProto | string, reason: string): never => {
    throw new RotationUnsupported(model.path, typeof node === 'string' ? node : `${node.opType} '${node.name}'`, reason);
  };
  const nodeLabel = (n: NodeProto) => `${n.opType} '${n.name}'`;
  const layerOf = (n: NodeProto, input: string): LayerRecord | undefined =>
    model.layers.find((l) => l.nodeRef === n && l.input === input && (l.op === 'MatMul' || l.op === 'Gemm') && !l.scope?.length);

  // 1. The embedding.
  const graphInputs = new Set(model.graph.input.map((i) => i.name));
  const allEmbeds = model.layers.filter((l) => l.op === 'Gather' && l.embedding && graphInputs.has(l.nodeRef.input[1]) && !l.scope?.length);
  // Several (token, learned positions by position_ids, token types): the stream starts at the one
  // gathered by input_ids; the others must be found added into it (plan.tables).
  const byIds = allEmbeds.filter((l) => l.nodeRef.input[1] === 'input_ids');
  const embeds = allEmbeds.length > 1 && byIds.length === 1 ? byIds : allEmbeds;
  if (embeds.length !== 1)
    fail(
      model.path,
      embeds.length
        ? `${embeds.length} token embeddings (${embeds.map((e) => e.name).join(', ')}); the residual stream must start at one`
        : 'no token embedding (a Gather of a [vocab, d] table by a graph input) starts a residual stream',
    );
  const emb = embeds[0];
  if (emb.ref.chain.length)
    fail(emb.nodeRef, `the embedding table '${emb.name}' is not a stored tensor (it goes through ${emb.ref.chain.length} op(s))`);
  const d = emb.dims[1];
  const start = emb.nodeRef.output[0];

  const readers: StreamLinear[] = [];
  const writers: StreamLinear[] = [];
  const norms: FoldedNorm[] = [];
  const layerNorms: StreamLayerNorm[] = [];
  let rmsNorm: NodeProto | undefined;
  const tables: ConstInput[] = [];
  const streamBiases: ConstInput[] = [];
  const stream: string[] = [];
  const isStream = new Set<string>();
  const handled = new Set<NodeProto>();
  const queue: string[] = [];
  const addStream = (t: string) => {
    if (!t || isStream.has(t)) return;
    isStream.add(t);
    stream.push(t);
    queue.push(t);
  };

  let tiedHead: string | undefined;
  const checkLinear = (l: LayerRecord, role: string): void => {
    if (role !== 'writer' && l.ref.source === emb.ref.source) {
      // A tied head: untied by rotateModel; it must read the table as [d, vocab] (MatMul of Eᵀ, or Gemm transB of E).
      if (tiedHead)
        fail(l.nodeRef, `a second layer ('${l.name}') reads the embedding table '${emb.name}' (tied head '${tiedHead}' already)`);
      if (l.shape[1] !== d) fail(l.nodeRef, `tied head '${l.name}' takes ${l.shape[1]} input channels, the stream has ${d}`);
      tiedHead = l.name;
      return;
    }
    if (l.ref.chain.length)
      fail(
        l.nodeRef,
        `the weight of ${role} '${l.name}' goes through ${l.ref.chain.map((c) => c.opType).join('/')}; only stored weights can be rotated`,
      );
    if (role !== 'writer' && l.shape[1] !== d)
      fail(l.nodeRef, `reader '${l.name}' takes ${l.shape[1]} input channels, the stream has ${d}`);
    if (role === 'writer' && l.shape[0] !== d) fail(l.nodeRef, `writer '${l.name}' writes ${l.shape[0]} channels, the stream has ${d}`);
  };

  /** Every reader of a normalized tensor must be a linear layer (its γ, and a LayerNorm's β, then fold into them). */
  const normReaders = (tensor: string, owner: NodeProto, gamma?: ConstInput, beta?: ConstInput) => {
    if (idx.outputs.has(tensor)) fail(owner, `its normalized output '${tensor}' is a graph output`);
    const rs = idx.readers.get(tensor) ?? [];
    if (!rs.length) return;
    const take = (r: NodeProto, t: string) => {
      const l = layerOf(r, t);
      if (!l || r.input[0] !== t) fail(...normReaderProblem(r, t, owner));
      checkLinear(l!, 'reader');
      readers.push({ layer: l!.name, ...(gamma ? { gamma } : {}), ...(beta ? { beta } : {}) });
    };
    for (const r of rs) {
      if (r.opType === 'Shape') continue; // its shape does not change
      if (r.opType === 'Reshape' && r.input[0] === tensor) {
        // GPT-2's Conv1D: x.view(-1, d) before a Gemm. Row-major, so each row of the [tokens, d] result is
        // still one token's vector (the linears after it take d inputs); γ, β and R act on it the same way.
        const out = r.output[0];
        const rr = (idx.readers.get(out) ?? []).filter((x) => x.opType !== 'Shape');
        if (idx.outputs.has(out) || !rr.length)
          fail(r, `reshapes the normalized stream '${tensor}' of ${nodeLabel(owner)} into a graph output or for no linear layer`);
        for (const x of rr) take(x, out);
        continue;
      }
      take(r, tensor);
    }
  };
  const lnContext = {
    d,
    readers: (t: string) => idx.readers.get(t) ?? [],
    isGraphOutput: (t: string) => idx.outputs.has(t),
    constLength: (name: string) => constLength(model, name),
    scalar: (name: string) => scalarOf(model, name),
    fail: (n: NodeProto, reason: string): never => fail(n, reason),
  };
  /** A constant [d] added to the stream (a Skip…LayerNormalization's bias input). */
  const streamBias = (n: NodeProto, k: number) => {
    if (constLength(model, n.input[k]) !== d) fail(n, `its bias input '${n.input[k]}' is not a [${d}] constant`);
    if (!idx.onlyReader(n.input[k], n)) fail(n, `its bias input '${n.input[k]}' is shared with other nodes`);
    streamBiases.push({ node: n, input: k });
  };

  /** The tensor `u` added to the stream must come from a linear layer (possibly + a bias). */
  const writerOf = (u: string, at: NodeProto) => {
    if (isStream.has(u)) return;
    const g = idx.producer.get(u);
    if (g?.opType === 'Gather' && !g.attribute.find((a) => a.name === 'axis')?.i) {
      // Another embedding table added into the stream (learned positions, token types).
      const ref = model.consts.resolve(g.input[0]);
      if (ref && !ref.chain.length && ref.dims.length === 2 && ref.dims[1] === d) {
        if (!idx.onlyReader(g.input[0], g)) fail(g, `its table '${g.input[0]}' is shared with other nodes; untie it first`);
        tables.push({ node: g, input: 0 });
        return;
      }
    }
    let p = g;
    if (p?.opType === 'Reshape') {
      // GPT-2's Conv1D: Gemm on [tokens, d], then a Reshape back to [batch, sequence, d] (rows are tokens).
      if (!idx.onlyReader(p.input[0], p))
        fail(p, `reshapes '${p.input[0]}' into the residual stream, but that tensor is also read elsewhere`);
      p = idx.producer.get(p.input[0]);
    }
    let bias: { node: NodeProto; input: number } | undefined;
    if (p?.opType === 'Add') {
      const k = [0, 1].find((i) => constLength(model, p!.input[i]) === d);
      if (k !== undefined) {
        bias = { node: p, input: k };
        p = idx.producer.get(p.input[1 - k]);
      }
    }
    const l = p ? model.layers.find((x) => x.nodeRef === p && (x.op === 'MatMul' || x.op === 'Gemm') && !x.scope?.length) : undefined;
    if (!p || !l)
      fail(
        at,
        `adds '${u}' (${p ? `from ${nodeLabel(p)}` : 'a graph input or constant'}) to the residual stream; only a linear layer's output can be rotated`,
      );
    checkLinear(l!, 'writer');
    // Centring and rotation change the writer's output: nothing but the stream may read it on its way there.
    const chain = [p!, ...(bias ? [bias.node] : []), ...(g?.opType === 'Reshape' ? [g] : [])];
    for (const [i, n] of chain.entries()) {
      const t = n.output[0],
        next = chain[i + 1] ?? at;
      const other = (idx.readers.get(t) ?? []).find((x) => x !== next && x.opType !== 'Shape');
      if (other || idx.outputs.has(t))
        fail(
          l!.nodeRef,
          `the output '${t}' of writer '${l!.name}' is also ${other ? `read by ${nodeLabel(other)}` : 'a graph output'}; rotating the stream would change what it sees`,
        );
    }
    if (l!.op === 'Gemm' && p!.input[2]) bias = { node: p!, input: 2 };
    if (bias && constLength(model, bias.node.input[bias.input]) !== d)
      fail(bias.node, `the bias of writer '${l!.name}' is not a [${d}] constant`);
    if (bias && !idx.onlyReader(bias.node.input[bias.input], bias.node))
      fail(bias.node, `the bias of writer '${l!.name}' is shared with other nodes`);
    writers.push({ layer: l!.name, ...(bias ? { bias } : {}) });
  };

  /** Decomposed RMSNorm from a Pow(t, 2): returns the normalize node Mul(t, 1/√…) or Div(t, √…). */
  const rmsFromPow = (t: string, pow: NodeProto): NodeProto => {
    const one = (n: NodeProto): NodeProto | undefined => {
      const r = idx.readers.get(n.output[0]) ?? [];
      return r.length === 1 && !idx.outputs.has(n.output[0]) ? r[0] : undefined;
    };
    const bad = (why: string): never => fail(pow, `reads the residual stream '${t}' but is not part of an RMSNorm (${why})`);
    if (pow.input[0] !== t || scalarOf(model, pow.input[1]) !== 2) bad('not Pow(x, 2)');
    const mean = one(pow);
    if (mean?.opType !== 'ReduceMean') bad('no ReduceMean after it');
    const eps = one(mean!);
    if (eps?.opType !== 'Add' || ![0, 1].some((i) => scalarOf(model, eps.input[i]) !== undefined)) bad('no Add of ε after the mean');
    const sqrt = one(eps!);
    if (sqrt?.opType !== 'Sqrt') bad('no Sqrt after mean + ε');
    const inv = one(sqrt!);
    if (inv?.opType === 'Div' && inv.input[0] === t && inv.input[1] === sqrt!.output[0]) return inv;
    const reciprocal =
      inv?.opType === 'Reciprocal' || (inv?.opType === 'Div' && scalarOf(model, inv.input[0]) === 1 && inv.input[1] === sqrt!.output[0]);
    if (!reciprocal) bad('no 1/√(mean + ε)');
    const mul = one(inv!);
    if (mul?.opType !== 'Mul' || !mul.input.includes(t)) bad('the reciprocal RMS does not multiply the stream');
    return mul!;
  };

  addStream(start);
  while (queue.length) {
    const t = queue.shift()!;
    if (idx.outputs.has(t)) fail(t, `the residual stream '${t}' is a graph output (hidden states); rotating would change it`);
    for (const r of idx.readers.get(t) ?? []) {
      if (handled.has(r)) continue;
      if (r.opType === 'Shape') continue;
      if (r.opType === 'LayerNormalization' || r.opType === 'SkipLayerNormalization') {
        handled.add(r);
        const ln = fusedLayerNorm(lnContext, r, t);
        if (ln.form === 'SkipLayerNormalization') {
          for (const k of [0, 1]) if (r.input[k] !== t && !isStream.has(r.input[k])) writerOf(r.input[k], r);
          if (r.input[4]) streamBias(r, 4);
        }
        layerNorms.push(ln);
        normReaders(ln.output, r, ln.gamma, ln.beta);
        if (ln.form === 'SkipLayerNormalization' && r.output[3]) addStream(r.output[3]);
        continue;
      }
      if ((r.opType === 'ReduceMean' && !(idx.readers.get(t) ?? []).some((x) => x.opType === 'Pow')) || r.opType === 'Sub') {
        const ln = decomposedLayerNorm(lnContext, r, t);
        for (const n of [...ln.removed, ...ln.rereads]) handled.add(n);
        layerNorms.push(ln);
        normReaders(ln.output, ln.removed.length > 2 ? ln.removed[ln.removed.length - 1] : ln.node, ln.gamma, ln.beta);
        continue;
      }
      if (MEAN_NORMS.has(r.opType)) fail(r, meanNormReason(t));
      if (r.opType === 'Add') {
        handled.add(r);
        const other = r.input[0] === t ? r.input[1] : r.input[0];
        if (!isStream.has(other)) writerOf(other, r);
        addStream(r.output[0]);
        continue;
      }
      const ms = MS_NORMS[r.opType];
      if (ms) {
        handled.add(r);
        if (constLength(model, r.input[ms.gamma]) !== d) fail(r, `has no [${d}] γ input`);
        for (const k of ms.inputs) if (r.input[k] && r.input[k] !== t && !isStream.has(r.input[k])) writerOf(r.input[k], r);
        if (ms.bias !== undefined && r.input[ms.bias]) streamBias(r, ms.bias);
        for (const [k, o] of r.output.entries()) {
          if (!o || k === ms.normed || k === ms.sum) continue;
          if ((idx.readers.get(o) ?? []).length || idx.outputs.has(o)) fail(r, `its output ${k} ('${o}', the mean or 1/RMS) is used`);
        }
        rmsNorm ??= r;
        const gamma = { node: r, input: ms.gamma };
        norms.push({ node: r, gammaInput: ms.gamma });
        normReaders(r.output[ms.normed], r, gamma);
        if (ms.sum !== undefined && r.output[ms.sum]) addStream(r.output[ms.sum]);
        continue;
      }
      if (r.opType === 'Pow') {
        handled.add(r);
        const nrm = rmsFromPow(t, r);
        rmsNorm ??= nrm;
        handled.add(nrm);
        const out = nrm.output[0];
        const rs = idx.readers.get(out) ?? [];
        const g = rs.length === 1 && rs[0].opType === 'Mul' ? rs[0] : undefined;
        const k = g ? [0, 1].find((i) => constLength(model, g.input[i]) === d) : undefined;
        if (g && k !== undefined && !idx.outputs.has(out)) {
          norms.push({ node: g, gammaInput: k });
          normReaders(g.output[0], g, { node: g, input: k });
        } else normReaders(out, nrm);
        continue;
      }
      const l = layerOf(r, t);
      if (l && r.input[0] === t) {
        checkLinear(l, 'reader');
        readers.push({ layer: l.name });
        handled.add(r);
        continue;
      }
      // The normalize node of a decomposed RMSNorm whose Pow has not been visited yet is handled with it.
      if ((r.opType === 'Mul' || r.opType === 'Div') && (idx.readers.get(t) ?? []).some((x) => x.opType === 'Pow')) continue;
      fail(
        r,
        `reads the residual stream '${t}'; only RMSNorm, residual Adds and linear layers can (a rotation would change what it computes)`,
      );
    }
  }
  // A normalize node skipped above must have been claimed by its RMSNorm.
  for (const t of stream)
    for (const r of idx.readers.get(t) ?? [])
      if ((r.opType === 'Mul' || r.opType === 'Div') && !handled.has(r))
        fail(r, `reads the residual stream '${t}' outside an RMSNorm; a rotation would change what it computes`);
  if (!readers.length) fail(model.path, 'no linear layer reads the residual stream');
  // Centring the stream for its LayerNorms would change what an RMSNorm on it computes.
  if (layerNorms.length && rmsNorm)
    fail(
      rmsNorm,
      `is an RMSNorm on a residual stream that also has LayerNorms (${layerNorms[0].name}); centring the stream for the LayerNorms would change its output`,
    );
  for (const e of allEmbeds)
    if (e !== emb && !tables.some((x) => x.node === e.nodeRef))
      fail(
        model.path,
        `${allEmbeds.length} token embeddings (${allEmbeds.map((x) => x.name).join(', ')}); '${e.name}' is not added into the residual stream that starts at '${emb.name}'`,
      );
  const seen = new Set<string>();
  for (const l of [...readers, ...writers]) {
    if (seen.has(l.layer)) fail(model.layer(l.layer).nodeRef, `layer '${l.layer}' both reads and writes the stream`);
    seen.add(l.layer);
  }
  const own = [...readers, ...writers].filter((l) => l.layer !== tiedHead);
  const weightNames = new Set(own.map((l) => model.layer(l.layer).ref.source));
  if (weightNames.has(emb.ref.source))
    fail(
      emb.nodeRef,
      `the embedding table '${emb.name}' is shared with a layer writing the stream; only a tied head (a reader) can be untied`,
    );
  if (weightNames.size !== own.length) fail(model.path, 'two stream layers share one weight tensor; untie them first');
  return {
    size: d,
    embedding: { layer: emb.name, node: emb.nodeRef, input: emb.weightInput },
    readers,
    writers,
    norms,
    layerNorms,
    tables,
    streamBiases,
    streamTensors: stream,
    ...(tiedHead ? { tiedHead } : {}),
  };
}

/**
 * Online rotations (QuaRot's online Hadamard): before the chosen stream writers, the activation is
 * multiplied by a constant orthogonal Q (an inserted standard MatMul) and the writer's weight becomes
 * Qᵀ·W, so its input (and the weight's input side) is rotated too. `down`: the MLP down projections
 * (writers fed by an elementwise gate or activation); `all`: every writer (the attention output too).
 */
export type OnlineRotation = 'none' | 'down' | 'all';

const MLP_PRODUCERS = new Set(['Mul', 'Gelu', 'Relu', 'Sigmoid', 'Silu', 'FastGelu', 'QuickGelu', 'Tanh', 'Erf']);

/** Rotates a copy of `model` (see the file comment); the source model is not modified. */
export function rotateModel(
  model: OnnxModel,
  opts: { seed: number; rotation?: Rotation; online?: OnlineRotation },
): { model: OnnxModel; record: RotationRecord } {
  const plan = findRotationPlan(model);
  const r = opts.rotation ?? randomizedHadamard(plan.size, opts.seed);
  if (r.n !== plan.size) throw new Error(`${model.path}: rotation of size ${r.n} for a stream of width ${plan.size}`);
  const st = new EditState(model);
  const d = plan.size;

  // 0. A tied head gets its own copy of the table (as it reads it: [d, vocab], or [vocab, d] under Gemm
  //    transB), named as its layer so the plan's layer names still hold; the Transpose it read through is pruned.
  let untied: RotationReport['untied'];
  if (plan.tiedHead) {
    const l = model.layer(plan.tiedHead);
    const v = model.consts.value(l.ref);
    const dtype = l.ref.stored.dataType === DT.FLOAT16 ? DT.FLOAT16 : DT.FLOAT;
    st.rewire(l.nodeRef, l.weightInput, l.name, { data: Float32Array.from(v.data), dims: v.dims.slice(), dtype });
    untied = { embedding: plan.embedding.layer, head: l.name, bytes: v.data.length * (dtype === DT.FLOAT16 ? 2 : 4) };
  }

  // 0b. LayerNorm models: β into the readers' biases, then the stream centred (layerNormRewrite.ts).
  const layerNorm: RotationReport['layer_norm'] = plan.layerNorms.length
    ? { rewritten: [], new_biases: foldLayerNormBetas(st, model, plan), centred: centreStream(st, model, plan) }
    : undefined;

  // 1. Fold each norm's γ into its readers (W_in ← diag(γ)·W_in), then set γ to 1.
  for (const rd of plan.readers) {
    if (!rd.gamma) continue;
    const g = st.read(rd.gamma.node, rd.gamma.input).data;
    const l = model.layer(rd.layer);
    const w = st.read(l.nodeRef, l.weightInput);
    const [rows, cols] = w.dims;
    const byRow = inMajor(l);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) w.data[i * cols + j] *= g[byRow ? i : j];
    st.write(l.nodeRef, l.weightInput, w, true);
  }
  for (const n of plan.norms) {
    const g = st.read(n.node, n.gammaInput);
    g.data.fill(1);
    st.write(n.node, n.gammaInput, g);
  }

  // 2. Rotate: readers Rᵀ·W ([in, out]: each column; Gemm transB [out, in]: each row).
  const stats: RotationReport['layers'] = [];
  const rotate = (name: string, side: 'reads' | 'writes') => {
    const l = model.layer(name);
    const w = st.read(l.nodeRef, l.weightInput);
    const before = outlierStats(w.data);
    rotateMatrix(w.data, w.dims[0], w.dims[1], inMajor(l) === (side === 'reads') ? 0 : 1, r);
    const after = outlierStats(w.data);
    st.write(l.nodeRef, l.weightInput, w, true);
    stats.push({
      name,
      side,
      kurtosis_before: before.kurtosis,
      kurtosis_after: after.kurtosis,
      peak_before: before.peak,
      peak_after: after.peak,
    });
  };
  for (const rd of plan.readers) rotate(rd.layer, 'reads');
  // Writers W·R ([in, out]: each row; transB: each column), their biases b·R.
  for (const wr of plan.writers) {
    rotate(wr.layer, 'writes');
    if (wr.bias) {
      const b = st.read(wr.bias.node, wr.bias.input);
      rotateMatrix(b.data, 1, d, 1, r);
      st.write(wr.bias.node, wr.bias.input, b);
    }
  }
  // Online: x ← x·Q before the writer (an inserted MatMul by a constant), W ← Qᵀ·W.
  const online: RotationReport['online'] = [];
  if (opts.online && opts.online !== 'none') {
    const idx = new GraphIndex(model);
    for (const [i, wr] of plan.writers.entries()) {
      const l = model.layer(wr.layer);
      const before = idx.producer.get(l.input);
      const producer = before?.opType === 'Reshape' ? idx.producer.get(before.input[0]) : before;
      if (opts.online === 'down' && !(producer && MLP_PRODUCERS.has(producer.opType))) continue;
      const k = l.shape[1];
      const q = randomizedHadamard(k, (opts.seed + 1 + i) >>> 0);
      const w = st.read(l.nodeRef, l.weightInput);
      rotateMatrix(w.data, w.dims[0], w.dims[1], inMajor(l) ? 0 : 1, q);
      st.write(l.nodeRef, l.weightInput, w, true);
      const dtype = st.layerDtype(wr.layer);
      const qName = st.constant(`${wr.layer}_online_rotation`, Float32Array.from(q.dense()), [k, k], dtype);
      const out = st.ed.unique(`${l.input}_rotated`);
      const node = st.node(l.nodeRef);
      st.ed.insertBefore(node, makeNode('MatMul', [l.input, qName], [out], st.ed.unique(`${wr.layer}_online_rotation_MatMul`)));
      node.input[0] = out;
      online.push({ layer: wr.layer, size: k, construction: q.construction });
    }
  }
  // The embedding rows E·R.
  const e = st.read(plan.embedding.node, plan.embedding.input);
  rotateMatrix(e.data, e.dims[0], e.dims[1], 1, r);
  st.write(plan.embedding.node, plan.embedding.input, e, true);
  // Other tables added into the stream (rows E·R) and stream biases (b·R).
  for (const c of [...plan.tables, ...plan.streamBiases]) {
    const t = st.read(c.node, c.input);
    rotateMatrix(t.data, t.data.length / d, d, 1, r);
    st.write(c.node, c.input, t, plan.tables.includes(c));
  }
  // LayerNorms become RMSNorms with γ = 1 (γ and β are in their readers now; last, since it moves inputs).
  if (layerNorm) layerNorm.rewritten = rewriteLayerNorms(st, plan);

  return {
    model: st.result(),
    record: {
      method: 'hadamard',
      seed: opts.seed,
      size: d,
      construction: r.construction,
      embedding: plan.embedding.layer,
      readers: plan.readers.map((x) => x.layer),
      writers: plan.writers.map((x) => x.layer),
      norms: [...plan.norms.map((n) => n.node.name || n.node.opType), ...plan.layerNorms.map((n) => n.name)],
      layers: stats,
      ...(plan.tables.length ? { tables: plan.tables.map((t) => t.node.input[t.input]) } : {}),
      ...(layerNorm ? { layer_norm: layerNorm } : {}),
      ...(online.length ? { online } : {}),
      ...(untied ? { untied } : {}),
    },
  };
}
