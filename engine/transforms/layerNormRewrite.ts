/**
 * LayerNorm models made rotatable (QuaRot §4 / SliceGPT §3.2), on the rotation's EditState, before
 * the γ fold and the rotation itself:
 *
 * 1. β folds into the readers: LN(x)·W + b = (x̂·γ + β)·W + b = x̂·diag(γ)·W + (β·W + b): β·W is
 *    added to the reader's bias, or becomes a new one (an Add after the MatMul, or Gemm's C).
 * 2. The stream is centred, x ← x·C with C = I − 11ᵀ/d: every writer W ← W·C and b ← b·C, the rows
 *    of the embedding and of every table added into the stream, and the stream biases. LayerNorm is
 *    invariant to a per-token shift, so its output is unchanged, and the stream is now mean-free.
 * 3. Each LayerNorm becomes an RMSNorm over the same stream, same axis and ε, with γ = 1 (its γ is
 *    folded into the readers by the rotation's step 1): LayerNormalization → SimplifiedLayerNormalization,
 *    SkipLayerNormalization → SkipSimplifiedLayerNormalization (bias kept), and the decomposed form
 *    loses its ReduceMean/Sub (Pow and Div read the stream) and its Mul γ / Add β.
 */
import type { LayerRecord } from '../onnx/layers';
import type { OnnxModel } from '../onnx/model';
import { attr, makeNode } from '../export/graphEdit';
import type { EditState } from './editState';
import { GraphIndex } from './producer';
import type { ConstInput, StreamLayerNorm } from './streamLayerNorm';

/** The parts of the rotation plan (rotation.ts) the rewrite uses. */
export interface LayerNormRewritePlan {
  size: number;
  embedding: { layer: string; node: ConstInput['node']; input: number };
  readers: { layer: string; beta?: ConstInput }[];
  writers: { layer: string; bias?: ConstInput }[];
  tables: ConstInput[];
  streamBiases: ConstInput[];
  layerNorms: StreamLayerNorm[];
}

/** Is a layer's stored weight [in, out] (MatMul, Gemm without transB)? */
export function inMajor(l: LayerRecord): boolean {
  return l.op === 'MatMul' || !l.nodeRef.attribute.find((a) => a.name === 'transB')?.i;
}

/** Subtracts from each length-`n` vector of `data` (rows of [count, n] when `rows`, else columns of [n, count]) its mean. */
function centre(data: Float32Array, count: number, n: number, rows: boolean): void {
  for (let k = 0; k < count; k++) {
    let mean = 0;
    for (let j = 0; j < n; j++) mean += data[rows ? k * n + j : j * count + k];
    mean /= n;
    for (let j = 0; j < n; j++) data[rows ? k * n + j : j * count + k] -= mean;
  }
}

function centreConst(st: EditState, c: ConstInput, d: number, keepName = false): void {
  const v = st.read(c.node, c.input);
  centre(v.data, v.data.length / d, d, true);
  st.write(c.node, c.input, v, keepName);
}

/** Step 2: every writer, table and stream bias of the stream x ← x·C (rows of tables: E·C). */
export function centreStream(st: EditState, model: OnnxModel, plan: LayerNormRewritePlan): string[] {
  const d = plan.size;
  const done: string[] = [];
  for (const wr of plan.writers) {
    const l = model.layer(wr.layer);
    const w = st.read(l.nodeRef, l.weightInput);
    const [rows, cols] = w.dims;
    // [in, d]: each row; Gemm transB [d, in]: each column.
    if (inMajor(l)) centre(w.data, rows, cols, true);
    else centre(w.data, cols, rows, false);
    st.write(l.nodeRef, l.weightInput, w, true);
    if (wr.bias) centreConst(st, wr.bias, d);
    done.push(wr.layer);
  }
  centreConst(st, { node: plan.embedding.node, input: plan.embedding.input }, d, true);
  done.push(plan.embedding.layer);
  for (const t of plan.tables) {
    centreConst(st, t, d, true);
    done.push(t.node.input[t.input]);
  }
  for (const b of plan.streamBiases) {
    centreConst(st, b, d);
    done.push(b.node.input[b.input]);
  }
  return done;
}

/** A reader's existing bias: Gemm's C, or the one Add of a [out] constant after its MatMul. */
function readerBias(model: OnnxModel, idx: GraphIndex, l: LayerRecord, out: number): ConstInput | undefined {
  const n = l.nodeRef;
  if (n.opType === 'Gemm') return n.input[2] ? { node: n, input: 2 } : undefined;
  const y = n.output[0];
  const rs = idx.readers.get(y) ?? [];
  if (rs.length !== 1 || idx.outputs.has(y) || rs[0].opType !== 'Add') return undefined;
  const add = rs[0];
  const k = [0, 1].find((i) => add.input[1 - i] === y && model.consts.resolve(add.input[i])?.dims.reduce((a, b) => a * b, 1) === out);
  const ref = k === undefined ? undefined : model.consts.resolve(add.input[k]);
  if (!ref || ref.chain.length || ref.dims.slice(0, -1).some((x) => x !== 1)) return undefined;
  return { node: add, input: k! };
}

/**
 * Step 1: for every reader of a LayerNorm with β, b ← b + β·W (W as stored now: before the γ fold and
 * the rotation). Returns the layers that got a new bias.
 */
export function foldLayerNormBetas(st: EditState, model: OnnxModel, plan: LayerNormRewritePlan): string[] {
  const idx = new GraphIndex(model);
  const added: string[] = [];
  for (const rd of plan.readers) {
    if (!rd.beta) continue;
    const beta = st.read(rd.beta.node, rd.beta.input).data;
    const l = model.layer(rd.layer);
    const w = st.read(l.nodeRef, l.weightInput);
    const [rows, cols] = w.dims;
    const byRow = inMajor(l);
    const out = byRow ? cols : rows;
    const bw = new Float64Array(out);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++) {
        const v = w.data[i * cols + j];
        if (byRow) bw[j] += beta[i] * v;
        else bw[i] += beta[j] * v;
      }
    if (bw.every((x) => x === 0)) continue;
    const existing = readerBias(model, idx, l, out);
    if (existing) {
      const b = st.read(existing.node, existing.input);
      for (let j = 0; j < out; j++) b.data[j] += bw[j];
      st.write(existing.node, existing.input, b);
      continue;
    }
    const dtype = st.layerDtype(rd.layer);
    const name = st.constant(`${rd.layer}_layernorm_bias`, Float32Array.from(bw), [out], dtype);
    const node = st.node(l.nodeRef);
    if (node.opType === 'Gemm') node.input[2] = name;
    else {
      // The MatMul writes a fresh tensor; the Add writes its old name (a graph output such as `logits` stays one).
      const y = node.output[0];
      node.output[0] = st.ed.unique(`${y}_before_layernorm_bias`);
      st.ed.insertAfter(node, makeNode('Add', [node.output[0], name], [y], st.ed.unique(`${node.name || rd.layer}_layernorm_bias_Add`)));
    }
    added.push(rd.layer);
  }
  return added;
}

/** Step 3: each LayerNorm becomes an RMSNorm with γ = 1 (γ and β are folded into its readers by now). */
export function rewriteLayerNorms(st: EditState, plan: LayerNormRewritePlan): string[] {
  const d = plan.size;
  const names: string[] = [];
  for (const ln of plan.layerNorms) {
    names.push(ln.name);
    if (ln.form === 'decomposed') {
      for (const n of ln.rereads) {
        const live = st.node(n);
        live.input[0] = ln.stream;
      }
      // The linears read the Div's output; the mean subtraction and the affine nodes go.
      const normalized = st.node(ln.node).output[0];
      if (ln.output !== normalized)
        for (const n of st.ed.graph.node.filter((x) => x.input.includes(ln.output))) {
          const live = st.node(n);
          live.input = live.input.map((x) => (x === ln.output ? normalized : x));
        }
      for (const n of ln.removed) st.ed.replaceNode(st.node(n));
      continue;
    }
    const live = st.node(ln.node);
    const gammaDtype = ln.gamma ? st.read(ln.gamma.node, ln.gamma.input).dtype : undefined;
    const ones = st.constant(`${ln.name}_rms_scale`, new Float32Array(d).fill(1), [d], gammaDtype);
    const keep = live.attribute.filter((a) => a.name === 'axis' || a.name === 'stash_type');
    live.attribute = [...keep, { ...attr.int('epsilon', 0), type: 1, i: undefined, f: ln.epsilon }];
    if (ln.form === 'LayerNormalization') {
      live.opType = 'SimplifiedLayerNormalization';
      live.domain = '';
      live.input = [live.input[0], ones];
      live.output = [live.output[0]];
    } else {
      live.opType = 'SkipSimplifiedLayerNormalization';
      live.input = [live.input[0], live.input[1], ones, ...(live.input[4] ? [live.input[4]] : [])];
    }
  }
  return names;
}
