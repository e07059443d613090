/**
 * Where a per-input-channel scale of a layer's input can be folded exactly: into a norm's weight
 * (RMSNorm Mul by γ, LayerNormalization/SimplifiedLayerNormalization/SkipSimplifiedLayerNormalization),
 * into a previous linear (MatMul/Gemm with a constant weight, also as a factor of an elementwise
 * gate Mul as in SwiGLU), or nowhere (the caller then inserts an explicit Mul).
 */
import type { NodeProto } from '../onnx/onnxProto';
import type { OnnxModel } from '../onnx/model';

/** How the scale s (x → x/s) is absorbed by the tensor's producer. */
export type ScaleProducer =
  /** A node input holding a per-channel constant that multiplies the output (γ), with an optional bias input. */
  | { kind: 'norm'; node: NodeProto; scaleInput: number; biasInput?: number; biasNode?: NodeProto; biasConstInput?: number }
  /** A previous linear layer: its output columns (and bias) are divided by s. */
  | { kind: 'linear'; layer: string; viaMul?: NodeProto }
  /** Nothing to fold into; an explicit Mul(x, 1/s) is inserted. */
  | { kind: 'none'; reason: string };

/** The consumers of one activation tensor and where their common input scale folds. */
export interface ScaleGroup {
  /** The activation tensor. */
  tensor: string;
  /** Every layer reading the tensor (all receive W·diag(s)). */
  layers: string[];
  producer: ScaleProducer;
}

const NORM_OPS: Record<string, { scale: number; bias?: number }> = {
  LayerNormalization: { scale: 1, bias: 2 },
  SimplifiedLayerNormalization: { scale: 1 },
  SkipSimplifiedLayerNormalization: { scale: 2 },
  SkipLayerNormalization: { scale: 2, bias: 3 },
};

/** Indexes who produces and who reads each tensor of the top-level graph. */
export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  readonly readers = new Map<string, NodeProto[]>();
  readonly outputs: Set<string>;
  constructor(readonly model: OnnxModel) {
    for (const n of model.graph.node) {
      for (const o of n.output) if (o) this.producer.set(o, n);
      for (const i of new Set(n.input))
        if (i) {
          const r = this.readers.get(i) ?? [];
          r.push(n);
          this.readers.set(i, r);
        }
    }
    this.outputs = new Set(model.graph.output.map((o) => o.name));
  }
  /** Whether `tensor` is read only by `node` (once) and is not a graph output. */
  onlyReader(tensor: string, node: NodeProto): boolean {
    const r = this.readers.get(tensor) ?? [];
    return r.length === 1 && r[0] === node && node.input.filter((i) => i === tensor).length === 1 && !this.outputs.has(tensor);
  }
}

/** Length of a per-channel constant (dims [C] or [1,…,1,C]) feeding `name`, else undefined. */
export function channelConstLength(model: OnnxModel, name: string): number | undefined {
  const ref = model.consts.resolve(name);
  if (!ref || ref.chain.length) return undefined;
  const d = ref.dims;
  if (!d.length || d.slice(0, -1).some((x) => x !== 1)) return undefined;
  return d[d.length - 1];
}

function linearLayerOf(model: OnnxModel, n: NodeProto | undefined): string | undefined {
  if (!n) return undefined;
  const l = model.layers.find((r) => r.nodeRef === n && r.weightInput === 1 && r.quantizable && r.ref.chain.length === 0);
  if (!l || (n.opType !== 'MatMul' && n.opType !== 'Gemm')) return undefined;
  return l.name;
}

/** Classifies how `tensor` (of `channels` channels) is produced. */
function classify(model: OnnxModel, idx: GraphIndex, tensor: string, channels: number): ScaleProducer {
  const n = idx.producer.get(tensor);
  if (!n) return { kind: 'none', reason: `'${tensor}' is a graph input or constant` };
  if (n.domain && n.domain !== 'ai.onnx' && n.domain !== 'com.microsoft')
    return { kind: 'none', reason: `producer ${n.domain}.${n.opType} is not supported` };
  const norm = NORM_OPS[n.opType];
  if (norm && n.output[0] === tensor) {
    if (channelConstLength(model, n.input[norm.scale] ?? '') !== channels)
      return { kind: 'none', reason: `${n.opType} '${n.name}' has no ${channels}-channel scale input` };
    const bias = norm.bias !== undefined && n.input[norm.bias] ? norm.bias : undefined;
    if (bias !== undefined && channelConstLength(model, n.input[bias]) !== channels)
      return { kind: 'none', reason: `${n.opType} '${n.name}' bias is not per-channel` };
    return { kind: 'norm', node: n, scaleInput: norm.scale, ...(bias !== undefined ? { biasInput: bias } : {}) };
  }
  if (n.opType === 'Mul') {
    const k = [0, 1].find((i) => channelConstLength(model, n.input[i]) === channels);
    if (k !== undefined) return { kind: 'norm', node: n, scaleInput: k };
    // Gate: Mul(a, linear(x)) — dividing the linear's output by s divides the product by s.
    for (const i of [1, 0]) {
      const p = idx.producer.get(n.input[i]);
      const lin = linearLayerOf(model, p);
      if (lin && idx.onlyReader(n.input[i], n) && n.input[0] !== n.input[1] && !(p?.opType === 'Gemm' && p.input[2]))
        return { kind: 'linear', layer: lin, viaMul: n };
    }
    return { kind: 'none', reason: `Mul '${n.name}' has neither a per-channel constant nor a linear operand` };
  }
  if (n.opType === 'Add') {
    // Decomposed LayerNorm: Add(Mul(x̂, γ), β).
    const k = [0, 1].find((i) => channelConstLength(model, n.input[i]) === channels);
    const other = k === undefined ? undefined : n.input[1 - k];
    const m = other ? idx.producer.get(other) : undefined;
    if (k !== undefined && m?.opType === 'Mul' && idx.onlyReader(other!, n)) {
      const g = [0, 1].find((i) => channelConstLength(model, m.input[i]) === channels);
      if (g !== undefined) return { kind: 'norm', node: m, scaleInput: g, biasNode: n, biasConstInput: k };
    }
    return { kind: 'none', reason: `Add '${n.name}' is a residual sum, not a norm` };
  }
  const lin = linearLayerOf(model, n);
  if (lin && !n.input[2]) return { kind: 'linear', layer: lin };
  return { kind: 'none', reason: `producer ${n.opType} '${n.name}' has no per-channel weight to fold into` };
}

/**
 * For `layer`'s input tensor: every layer that reads it (the group that must share one scale) and
 * where the scale folds. Throws when some reader of the tensor is not a quantizable layer reading
 * it as its activation (then no per-channel scale can be applied to all readers consistently).
 */
export function findScaleProducer(model: OnnxModel, layer: string, idx = new GraphIndex(model)): ScaleGroup {
  const rec = model.layer(layer);
  const tensor = rec.input;
  const readers = idx.readers.get(tensor) ?? [];
  const layers: string[] = [];
  for (const r of readers) {
    const l = model.layers.find((x) => x.nodeRef === r && x.input === tensor && x.quantizable);
    if (!l || (r.opType !== 'MatMul' && r.opType !== 'Gemm') || l.ref.chain.length) {
      return {
        tensor,
        layers: [layer],
        producer: { kind: 'none', reason: `'${tensor}' is also read by ${r.opType} '${r.name}', which is not a foldable layer` },
      };
    }
    layers.push(l.name);
  }
  if (idx.outputs.has(tensor)) return { tensor, layers: [layer], producer: { kind: 'none', reason: `'${tensor}' is a graph output` } };
  const channels = rec.shape[1];
  return { tensor, layers, producer: classify(model, idx, tensor, channels) };
}
