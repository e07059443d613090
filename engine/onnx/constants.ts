/**
 * Constant folding for weights: a tensor is constant when it is an initializer, a Constant node's
 * output, or Identity/Cast/Transpose/Reshape/Squeeze/Unsqueeze of a constant. Values are computed lazily.
 */
import type { GraphProto, NodeProto, TensorProto } from './onnxProto';
import { OnnxFormatError } from './protobuf';
import { DT, numel, tensorToFloat32, tensorToInts, type TensorSource } from './tensor';

/** A constant as its consumer sees it. */
export interface ConstRef {
  /** Name of the stored tensor (initializer or Constant output) at the root of the chain. */
  source: string;
  stored: TensorProto;
  /** Ops applied between the stored tensor and the consumer (e.g. ['Transpose']). */
  chain: NodeProto[];
  /** Dims the consumer sees. */
  dims: number[];
  /** Element type the consumer sees. */
  dataType: number;
}

const PASS_THROUGH = new Set(['Identity', 'Cast', 'Transpose', 'Reshape', 'Squeeze', 'Unsqueeze']);

/** Whether `op` (default domain) merely reshapes/re-types its first input. */
export function isPassThrough(n: NodeProto): boolean {
  return (!n.domain || n.domain === 'ai.onnx') && PASS_THROUGH.has(n.opType);
}

function attrInt(n: NodeProto, name: string): number | undefined {
  return n.attribute.find((a) => a.name === name)?.i;
}
function attrInts(n: NodeProto, name: string): number[] | undefined {
  const a = n.attribute.find((x) => x.name === name);
  return a ? a.ints : undefined;
}

/** Transposes an n-d row-major array. */
export function transposeNd(data: Float32Array, dims: number[], perm: number[]): Float32Array {
  const rank = dims.length;
  const out = new Float32Array(data.length);
  const outDims = perm.map((p) => dims[p]);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= dims[i];
  }
  const stride = perm.map((p) => inStrides[p]);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      src += stride[d];
      if (idx[d] < outDims[d]) break;
      src -= stride[d] * outDims[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Resolves constants of one graph. */
export class ConstResolver {
  private readonly stored = new Map<string, TensorProto>();
  private readonly producer = new Map<string, NodeProto>();
  private readonly memo = new Map<string, ConstRef | null>();

  /** `parent`: the enclosing graph's resolver, for the outer-scope names a subgraph reads. */
  constructor(
    readonly graph: GraphProto,
    readonly src: TensorSource,
    readonly parent?: ConstResolver,
  ) {
    for (const t of graph.initializer) this.stored.set(t.name, t);
    for (const n of graph.node) {
      for (const o of n.output) this.producer.set(o, n);
      if (n.opType === 'Constant' && (!n.domain || n.domain === 'ai.onnx')) {
        const v = n.attribute.find((a) => a.name === 'value');
        if (v?.t && n.output[0]) this.stored.set(n.output[0], v.t);
      }
    }
  }

  /** The constant behind `name`, or undefined when it depends on runtime inputs. */
  resolve(name: string, depth = 0): ConstRef | undefined {
    const hit = this.memo.get(name);
    if (hit !== undefined) return hit ?? undefined;
    this.memo.set(name, null);
    const r = this.compute(name, depth);
    this.memo.set(name, r ?? null);
    return r;
  }

  private compute(name: string, depth: number): ConstRef | undefined {
    const t = this.stored.get(name);
    if (t) return { source: name, stored: t, chain: [], dims: t.dims.slice(), dataType: t.dataType };
    const n = this.producer.get(name);
    if (!n && this.parent && !this.graph.input.some((v) => v.name === name)) return this.parent.resolve(name, depth);
    if (!n || !isPassThrough(n) || depth > 16) return undefined;
    const base = this.resolve(n.input[0], depth + 1);
    if (!base) return undefined;
    let dims = base.dims;
    let dataType = base.dataType;
    switch (n.opType) {
      case 'Cast':
        dataType = attrInt(n, 'to') ?? dataType;
        break;
      case 'Transpose': {
        const perm = attrInts(n, 'perm')?.length ? attrInts(n, 'perm')! : dims.map((_, i) => dims.length - 1 - i);
        dims = perm.map((p) => dims[p]);
        break;
      }
      case 'Reshape': {
        const shapeRef = n.input[1] ? this.resolve(n.input[1], depth + 1) : undefined;
        if (!shapeRef || shapeRef.chain.length) return undefined;
        const shape = tensorToInts(this.src, shapeRef.stored);
        const total = numel(dims, `${this.src.file}: node '${n.name}'`);
        const out = shape.map((d, i) => (d === 0 && attrInt(n, 'allowzero') !== 1 ? dims[i] : d));
        const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        dims = out.map((d) => (d === -1 ? total / known : d));
        if (dims.reduce((a, b) => a * b, 1) !== total)
          throw new OnnxFormatError(`${this.src.file}: Reshape '${n.name}' cannot reshape [${base.dims}] to [${shape}]`);
        break;
      }
      case 'Squeeze':
      case 'Unsqueeze': {
        const axesIn = n.input[1] ? this.resolve(n.input[1], depth + 1) : undefined;
        const axes = axesIn ? tensorToInts(this.src, axesIn.stored) : (attrInts(n, 'axes') ?? []);
        if (n.opType === 'Squeeze') {
          const r = dims.length;
          const ax = axes.length ? axes.map((a) => (a + r) % r) : dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
          dims = dims.filter((_, i) => !ax.includes(i));
        } else {
          const r = dims.length + axes.length;
          const ax = axes.map((a) => (a + r) % r);
          const out: number[] = [];
          let j = 0;
          for (let i = 0; i < r; i++) out.push(ax.includes(i) ? 1 : dims[j++]);
          dims = out;
        }
        break;
      }
    }
    return { source: base.source, stored: base.stored, chain: [...base.chain, n], dims, dataType };
  }

  /** The value (float32) the consumer sees, with its dims. fp32 with an empty chain is a zero-copy view. */
  value(ref: ConstRef): { data: Float32Array; dims: number[] } {
    let data = tensorToFloat32(this.src, ref.stored);
    let dims = ref.stored.dims.slice();
    for (const n of ref.chain) {
      if (n.opType === 'Transpose') {
        const p = attrInts(n, 'perm');
        const perm = p?.length ? p : dims.map((_, i) => dims.length - 1 - i);
        data = transposeNd(data, dims, perm);
        dims = perm.map((i) => dims[i]);
      } else if (n.opType === 'Cast') {
        const to = attrInt(n, 'to');
        if (to !== DT.FLOAT && to !== DT.FLOAT16 && to !== DT.DOUBLE)
          throw new OnnxFormatError(`${this.src.file}: Cast '${n.name}' makes weight '${ref.source}' non-float`);
      }
      // Reshape/Squeeze/Unsqueeze/Identity keep row-major order.
    }
    return { data, dims: ref.dims };
  }
}
