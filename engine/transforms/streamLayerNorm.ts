/**
 * LayerNorms on the residual stream, as the rotation walk (rotation.ts) finds them:
 * `LayerNormalization` (opset 17), `com.microsoft.SkipLayerNormalization`, and torch's decomposition
 * below opset 17 — ReduceMean(x), Sub(x, mean) = c, Pow(c, 2), ReduceMean, Add ε, Sqrt, Div(c, ·),
 * then optionally Mul γ and Add β.
 *
 * QuaRot/SliceGPT make such a model rotatable: once every stream writer is centred (x·C with
 * C = I − 11ᵀ/d), the stream is mean-free, so LN(x) = (x − μ)/σ·γ + β = RMSNorm(x)·γ + β with the
 * same ε and the mean over the same d. γ and β then fold into the linears reading the norm
 * (layerNormRewrite.ts) and the node becomes an RMSNorm with γ = 1.
 */
import type { NodeProto } from '../onnx/onnxProto';

/** A constant node input (γ, β, a bias). */
export interface ConstInput {
  node: NodeProto;
  input: number;
}

/** One LayerNorm reading the residual stream. */
export interface StreamLayerNorm {
  form: 'LayerNormalization' | 'SkipLayerNormalization' | 'decomposed';
  /** The fused op, or (decomposed) the Div that normalizes. */
  node: NodeProto;
  /** Name for reports: the fused op, or the decomposed form's last node. */
  name: string;
  /** The stream tensor it normalizes (decomposed: what ReduceMean and Sub read). */
  stream: string;
  gamma?: ConstInput;
  beta?: ConstInput;
  /** The tensor the linears read (the normalized output, after γ and β). */
  output: string;
  /** Decomposed form: the mean subtraction (ReduceMean, Sub) and the affine (Mul γ, Add β) nodes, removed by the rewrite. */
  removed: NodeProto[];
  /** Decomposed form: the Pow and Div that read the centred tensor; they read the stream after the rewrite. */
  rereads: NodeProto[];
  /** Epsilon as the op computes it (its attribute or the op's default). */
  epsilon: number;
}

/** The graph facts the matcher needs, from the rotation walk. */
export interface LayerNormContext {
  d: number;
  readers(t: string): NodeProto[];
  isGraphOutput(t: string): boolean;
  /** Length of a [d] / [1,…,1,d] stored constant, else undefined. */
  constLength(name: string): number | undefined;
  scalar(name: string): number | undefined;
  /** Throws RotationUnsupported naming `node`. */
  fail(node: NodeProto, reason: string): never;
}

const label = (n: NodeProto) => `${n.opType} '${n.name}'`;

function attrOf(n: NodeProto, name: string): { i?: number; f?: number; ints: number[] } | undefined {
  return n.attribute.find((a) => a.name === name);
}

/** ε of a fused LayerNorm (LayerNormalization's default 1e-5, SkipLayerNormalization's 1e-12). */
export function epsilonOf(n: NodeProto): number {
  const a = attrOf(n, 'epsilon');
  if (a?.f !== undefined) return a.f;
  return n.opType === 'SkipLayerNormalization' ? 1e-12 : 1e-5;
}

function affine(ctx: LayerNormContext, n: NodeProto, gammaInput: number, betaInput: number): Pick<StreamLayerNorm, 'gamma' | 'beta'> {
  if (ctx.constLength(n.input[gammaInput] ?? '') !== ctx.d) ctx.fail(n, `has no [${ctx.d}] γ (scale) constant`);
  const beta = n.input[betaInput];
  if (beta && ctx.constLength(beta) !== ctx.d) ctx.fail(n, `its β (bias) '${beta}' is not a [${ctx.d}] constant`);
  return { gamma: { node: n, input: gammaInput }, ...(beta ? { beta: { node: n, input: betaInput } } : {}) };
}

function unusedOutputs(ctx: LayerNormContext, n: NodeProto, outputs: number[]): void {
  for (const k of outputs) {
    const o = n.output[k];
    if (o && (ctx.readers(o).length || ctx.isGraphOutput(o))) ctx.fail(n, `its output ${k} ('${o}', the mean or 1/σ) is used`);
  }
}

/** LayerNormalization or SkipLayerNormalization reading the stream `t`. */
export function fusedLayerNorm(ctx: LayerNormContext, n: NodeProto, t: string): StreamLayerNorm {
  const axis = attrOf(n, 'axis')?.i ?? -1;
  if (n.opType === 'LayerNormalization' && axis !== -1)
    ctx.fail(n, `normalizes over axis ${axis}, not the last (channel) axis of the residual stream '${t}'`);
  const skip = n.opType === 'SkipLayerNormalization';
  if (!skip && n.input[0] !== t) ctx.fail(n, `reads the residual stream '${t}' as its γ or β, not as the tensor it normalizes`);
  unusedOutputs(ctx, n, [1, 2]);
  return {
    form: skip ? 'SkipLayerNormalization' : 'LayerNormalization',
    node: n,
    name: n.name || n.opType,
    stream: t,
    ...affine(ctx, n, skip ? 2 : 1, skip ? 3 : 2),
    output: n.output[0],
    removed: [],
    rereads: [],
    epsilon: epsilonOf(n),
  };
}

/**
 * torch's decomposed LayerNorm from `first`, the ReduceMean or the Sub reading the stream `t`:
 * ReduceMean(t) → Sub(t, mean) = c → Pow(c, 2) → ReduceMean → Add ε → Sqrt → Div(c, √·) → [Mul γ] → [Add β].
 */
export function decomposedLayerNorm(ctx: LayerNormContext, first: NodeProto, t: string): StreamLayerNorm {
  const fromT = ctx.readers(t);
  const bad = (n: NodeProto, why: string): never =>
    ctx.fail(
      n,
      `subtracts the mean of the residual stream '${t}' but is not a LayerNorm (${why}); a rotation would change what it computes`,
    );
  const only = (tensor: string): NodeProto | undefined => {
    const r = ctx.readers(tensor);
    return r.length === 1 && !ctx.isGraphOutput(tensor) ? r[0] : undefined;
  };
  const lastAxis = (n: NodeProto) => {
    const axes = attrOf(n, 'axes')?.ints;
    return n.input.length < 2 && axes?.length === 1 && axes[0] === -1;
  };
  const mean =
    first.opType === 'ReduceMean'
      ? first
      : fromT.find((r) => r.opType === 'ReduceMean' && r.input[0] === t && first.input[1] === r.output[0]);
  if (!mean) return bad(first, 'no ReduceMean of the stream feeds it');
  if (!lastAxis(mean)) bad(mean, 'the mean is not over the last axis alone (axes [-1])');
  const sub = only(mean.output[0]);
  if (sub?.opType !== 'Sub' || sub.input[0] !== t || sub.input[1] !== mean.output[0])
    return bad(mean, 'its mean is not subtracted from the stream by one Sub');
  const c = sub.output[0];
  const cr = ctx.isGraphOutput(c) ? [] : ctx.readers(c);
  const pow = cr.find((r) => r.opType === 'Pow');
  const div = cr.find((r) => r.opType === 'Div');
  if (cr.length !== 2 || !pow || !div) return bad(sub, `the centred '${c}' is not read by exactly one Pow and one Div`);
  if (pow.input[0] !== c || ctx.scalar(pow.input[1]) !== 2) bad(pow, 'not Pow(c, 2)');
  const variance = only(pow.output[0]);
  if (variance?.opType !== 'ReduceMean' || !lastAxis(variance)) return bad(pow, 'no ReduceMean over the last axis after it');
  const addEps = only(variance.output[0]);
  const k = addEps?.opType === 'Add' ? [0, 1].find((i) => ctx.scalar(addEps.input[i]) !== undefined) : undefined;
  if (!addEps || k === undefined) return bad(variance, 'no Add of a scalar ε after the variance');
  const sqrt = only(addEps.output[0]);
  if (sqrt?.opType !== 'Sqrt' || only(sqrt.output[0]) !== div || div.input[0] !== c || div.input[1] !== sqrt.output[0])
    return bad(addEps, 'not Div(c, Sqrt(variance + ε))');
  let out = div.output[0];
  const removed = [mean, sub];
  let gamma: ConstInput | undefined, beta: ConstInput | undefined;
  const mul = only(out);
  const g = mul?.opType === 'Mul' ? [0, 1].find((i) => ctx.constLength(mul.input[i]) === ctx.d) : undefined;
  if (mul && g !== undefined) {
    gamma = { node: mul, input: g };
    removed.push(mul);
    out = mul.output[0];
  }
  const add = only(out);
  const bk = add?.opType === 'Add' ? [0, 1].find((i) => ctx.constLength(add.input[i]) === ctx.d) : undefined;
  if (add && bk !== undefined) {
    beta = { node: add, input: bk };
    removed.push(add);
    out = add.output[0];
  }
  const last = removed[removed.length - 1] === sub ? div : removed[removed.length - 1];
  return {
    form: 'decomposed',
    node: div,
    name: last.name || last.opType,
    stream: t,
    ...(gamma ? { gamma } : {}),
    ...(beta ? { beta } : {}),
    output: out,
    removed,
    rereads: [pow, div],
    epsilon: ctx.scalar(addEps.input[k])!,
  };
}

/**
 * Why a norm whose normalized output `tensor` is read by `r` (not a linear layer) stops the rotation,
 * and which node to name: the norm itself for a post-LN block, else the reader.
 */
export function normReaderProblem(r: NodeProto, tensor: string, owner: NodeProto): [NodeProto, string] {
  if (r.opType === 'Add' || r.opType === 'Sum' || r.opType.endsWith('LayerNormalization'))
    return [
      owner,
      `is a post-LN norm (BERT, the original Transformer): its output '${tensor}' is itself the residual stream (${label(r)} reads it). Its γ and β travel along the skip path to the next norm, so they cannot be folded into the linears after it, and the stream cannot be made mean-free; only pre-LN models (each norm read only by linear layers) can be rotated`,
    ];
  return [
    r,
    `reads the normalized stream '${tensor}' of ${label(owner)}; only linear layers (MatMul/Gemm with a constant weight) can take its γ, β and rotation`,
  ];
}
