/**
 * Exact folding of per-input-channel transforms x̃ = (x − z)/s of a layer group's input:
 * the producer absorbs 1/s (norm γ and bias, previous linear's output columns, or an explicit Mul)
 * and −z/s (norm bias, else an inserted Add); each consumer gets W·diag(s) and, for a shift, an Add
 * of W·z after its MatMul/Gemm. The result computes the same function in floating point.
 */
import { makeNode } from '../export/graphEdit';
import type { OnnxModel } from '../onnx/model';
import { EditState } from './editState';
import { findScaleProducer, GraphIndex, type ScaleGroup } from './producer';

/** One group of layers sharing an input tensor, and the transform to fold into it. */
export interface InputTransform {
  /** Layer names; every reader of the shared input tensor must be listed (see findScaleProducer). */
  layers: string[];
  /** Per-input-channel divisor s > 0 (AWQ/SmoothQuant/OS+ scale); default all ones. */
  scale?: Float32Array;
  /** Per-input-channel shift z (OS+); default none. */
  shift?: Float32Array;
}

/** How a group was folded. */
export interface FoldedGroup {
  tensor: string;
  layers: string[];
  /** norm: into a norm's γ/β; linear: into `into` (a previous layer); mul: an explicit Mul was inserted. */
  how: 'norm' | 'linear' | 'mul';
  into?: string;
  /** Why nothing could absorb the scale (how = 'mul'). */
  reason?: string;
  /** Whether the shift became an inserted Add (no bias to absorb it). */
  shiftAdd?: boolean;
}

export interface FoldResult {
  model: OnnxModel;
  groups: FoldedGroup[];
}

/** Groups every quantizable MatMul/Gemm layer by input tensor, with its fold target. */
export function scaleGroups(model: OnnxModel): ScaleGroup[] {
  const idx = new GraphIndex(model);
  const seen = new Set<string>();
  const out: ScaleGroup[] = [];
  for (const l of model.layers) {
    if (!l.quantizable || seen.has(l.name) || (l.op !== 'MatMul' && l.op !== 'Gemm')) continue;
    const g = findScaleProducer(model, l.name, idx);
    g.layers.forEach((n) => seen.add(n));
    out.push(g);
  }
  return out;
}

function checkVector(what: string, v: Float32Array | undefined, n: number, layers: string[], positive: boolean): void {
  if (!v) return;
  if (v.length !== n) throw new Error(`layers ${layers.join(', ')}: ${what} has ${v.length} values, expected ${n} (one per input channel)`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(v[i]) || (positive && !(v[i] > 0)))
      throw new Error(`layers ${layers.join(', ')}: ${what}[${i}] = ${v[i]} (must be finite${positive ? ' and > 0' : ''})`);
  }
}

/** Is the stored weight laid out [in, out] (MatMul, Gemm transB=0) rather than [out, in]? */
function inMajor(model: OnnxModel, layer: string): boolean {
  const l = model.layer(layer);
  return l.op === 'MatMul' || !l.nodeRef.attribute.find((a) => a.name === 'transB')?.i;
}

/**
 * Folds per-group input transforms into a copy of `model` (the source is not modified). Groups are
 * validated against the graph: their layers must be exactly the readers of one tensor.
 * `frozen` names layers whose weights must not change (already quantized, as in sequential
 * calibration): a frozen producer gets an explicit Mul instead; a frozen consumer is an error.
 */
export function foldInputTransforms(
  model: OnnxModel,
  transforms: InputTransform[],
  opts: { frozen?: ReadonlySet<string> } = {},
): FoldResult {
  const idx = new GraphIndex(model);
  const st = new EditState(model);
  const frozen = opts.frozen ?? new Set<string>();
  const plans = transforms.map((t) => {
    if (!t.layers.length) throw new Error(`${model.path}: empty layer group`);
    let g = findScaleProducer(model, t.layers[0], idx);
    const want = [...g.layers].sort().join(', ');
    const got = [...new Set(t.layers)].sort().join(', ');
    if (want !== got) throw new Error(`${model.path}: layers [${got}] do not form one input group; '${g.tensor}' is read by [${want}]`);
    const stuck = g.layers.filter((n) => frozen.has(n));
    if (stuck.length)
      throw new Error(
        `${model.path}: layers [${stuck.join(', ')}] read '${g.tensor}' with layers [${g.layers.filter((n) => !frozen.has(n)).join(', ')}] but are already quantized; their weights cannot absorb the input scale (put them in one block)`,
      );
    if (g.producer.kind === 'linear' && frozen.has(g.producer.layer))
      g = { ...g, producer: { kind: 'none', reason: `producer layer '${g.producer.layer}' is already quantized` } };
    const channels = model.layer(t.layers[0]).shape[1];
    checkVector('scale', t.scale, channels, t.layers, true);
    checkVector('shift', t.shift, channels, t.layers, false);
    const s = t.scale ?? new Float32Array(channels).fill(1);
    return { g, s, z: t.shift, channels, folded: { tensor: g.tensor, layers: g.layers.slice(), how: 'mul' } as FoldedGroup };
  });
  const tensors = new Set<string>();
  for (const p of plans) {
    if (tensors.has(p.g.tensor))
      throw new Error(`${model.path}: two groups transform the same input '${p.g.tensor}' (layers ${p.g.layers.join(', ')})`);
    tensors.add(p.g.tensor);
  }
  const readers = (g: ScaleGroup) => g.layers.map((n) => model.layer(n).nodeRef);

  // 1. Producer side: divide by s.
  for (const p of plans) {
    const { g, s, folded } = p;
    const pr = g.producer;
    if (pr.kind === 'norm') {
      const v = st.read(pr.node, pr.scaleInput);
      for (let i = 0; i < v.data.length; i++) v.data[i] /= s[i];
      st.write(pr.node, pr.scaleInput, v);
      if (pr.biasInput !== undefined) {
        const b = st.read(pr.node, pr.biasInput);
        for (let i = 0; i < b.data.length; i++) b.data[i] /= s[i];
        st.write(pr.node, pr.biasInput, b);
      }
      if (pr.biasNode && pr.biasConstInput !== undefined) {
        const b = st.read(pr.biasNode, pr.biasConstInput);
        for (let i = 0; i < b.data.length; i++) b.data[i] /= s[i];
        st.write(pr.biasNode, pr.biasConstInput, b);
      }
      folded.how = 'norm';
      folded.into = pr.node.name;
    } else if (pr.kind === 'linear') {
      const l = model.layer(pr.layer);
      const w = st.read(l.nodeRef, l.weightInput);
      const [rows, cols] = w.dims;
      const byCol = inMajor(model, pr.layer);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w.data[r * cols + c] /= s[byCol ? c : r];
      st.write(l.nodeRef, l.weightInput, w, true);
      folded.how = 'linear';
      folded.into = pr.layer;
    } else {
      if (p.s.some((x) => x !== 1))
        st.insertElementwise(
          'Mul',
          g.tensor,
          Float32Array.from(s, (x) => 1 / x),
          readers(g),
          st.layerDtype(g.layers[0]),
        );
      folded.reason = pr.reason;
    }
  }
  // 2. Producer side: subtract z/s (into a norm bias when there is one, else an Add).
  for (const p of plans) {
    if (!p.z) continue;
    const { g, s, z, folded } = p;
    const pr = g.producer;
    const neg = Float32Array.from(z, (x, i) => -x / s[i]);
    if (pr.kind === 'norm' && (pr.biasInput !== undefined || pr.biasNode)) {
      const [node, k] = pr.biasNode ? [pr.biasNode, pr.biasConstInput!] : [pr.node, pr.biasInput!];
      const b = st.read(node, k);
      for (let i = 0; i < b.data.length; i++) b.data[i] += neg[i];
      st.write(node, k, b);
    } else {
      const cur = st.node(readers(g)[0]).input[0];
      st.insertElementwise('Add', cur, neg, readers(g), st.layerDtype(g.layers[0]));
      folded.shiftAdd = true;
    }
  }
  // 3. Consumer side: y = W x̃' + W z (W as it is now, before the input scaling of step 4).
  for (const p of plans) {
    if (!p.z) continue;
    for (const name of p.g.layers) {
      const l = model.layer(name);
      const w = st.read(l.nodeRef, l.weightInput);
      const [rows, cols] = w.dims;
      const byRow = inMajor(model, name);
      const outs = byRow ? cols : rows;
      const c = new Float64Array(outs);
      for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) c[byRow ? k : r] += w.data[r * cols + k] * p.z![byRow ? r : k];
      const node = st.node(l.nodeRef);
      const out = node.output[0];
      const pre = st.ed.unique(`${out}_preshift`);
      node.output[0] = pre;
      const cName = st.constant(`${name}_shift_bias`, Float32Array.from(c), [outs], st.layerDtype(name));
      st.ed.insertAfter(node, makeNode('Add', [pre, cName], [out], st.ed.unique(`${name}_shift_add`)));
    }
  }
  // 4. Consumer side: W·diag(s).
  for (const p of plans) {
    if (p.s.every((x) => x === 1)) continue;
    for (const name of p.g.layers) {
      const l = model.layer(name);
      const w = st.read(l.nodeRef, l.weightInput);
      const [rows, cols] = w.dims;
      const byRow = inMajor(model, name);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w.data[r * cols + c] *= p.s[byRow ? r : c];
      st.write(l.nodeRef, l.weightInput, w, true);
    }
  }
  return { model: st.result(), groups: plans.map((p) => p.folded) };
}

/**
 * Folds per-group input scales (x → x/s, W → W·diag(s)) exactly: into the producing norm or
 * previous linear when possible, else through an inserted Mul(x, 1/s).
 */
export function foldInputScales(model: OnnxModel, groups: { layers: string[]; scale: Float32Array }[]): FoldResult {
  return foldInputTransforms(model, groups);
}
