/**
 * One block as its own ONNX model: the nodes between the block's inputs and outputs, the
 * initializers they read (external ones stay references, so onnxruntime loads them in place from the
 * source folder), graph inputs typed from the tensors that will feed them, and the outputs.
 */
import type { GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from '../onnx/onnxProto';
import { tensorTypeBytes } from '../onnx/onnxProto';
import { DT } from '../onnx/tensor';
import { nodeInputs } from './partition';

/** onnxruntime tensor type → ONNX element type. */
const ELEM: Record<string, number> = {
  float32: DT.FLOAT,
  float16: DT.FLOAT16,
  int64: 7,
  int32: 6,
  int8: 3,
  uint8: 2,
  bool: 9,
  float64: 11,
  int16: 5,
  uint16: 4,
  uint32: 12,
  uint64: 13,
};

/** The ONNX element type of an onnxruntime tensor type name. */
export function elemTypeOf(ortType: string): number {
  const e = ELEM[ortType];
  if (e === undefined) throw new Error(`block streaming: activations of type ${ortType} cannot be cached`);
  return e;
}

/** The nodes (in model order) that compute `outputs` from `inputs` and constants. */
export function blockNodes(g: GraphProto, inputs: Iterable<string>, outputs: string[], label: string): NodeProto[] {
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => {
    for (const o of n.output) if (o) producer.set(o, i);
  });
  const inits = new Set(g.initializer.map((t) => t.name));
  const given = new Set(inputs);
  const keep = new Set<number>();
  const stack = [...outputs];
  const seen = new Set<string>();
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t) || given.has(t)) continue;
    seen.add(t);
    const i = producer.get(t);
    if (i === undefined) {
      if (inits.has(t)) continue;
      throw new Error(`${label}: tensor ${t} is needed but neither an input of the block nor produced by any node`);
    }
    if (keep.has(i)) continue;
    keep.add(i);
    stack.push(...nodeInputs(g.node[i]));
  }
  return [...keep].sort((a, b) => a - b).map((i) => g.node[i]);
}

/**
 * The block's model. `inputTypes` gives the element type of each input that is not a graph input of
 * `model` (from the tensors that will feed it); outputs keep the graph's declaration when it has one,
 * else they are declared by name only (onnxruntime infers their type).
 */
export function blockModel(
  model: ModelProto,
  block: { index: number; inputs: string[]; outputs: string[] },
  inputTypes: Map<string, number>,
): ModelProto {
  const g = model.graph!;
  const label = `block ${block.index + 1}`;
  const nodes = blockNodes(g, block.inputs, block.outputs, label);
  const reads = new Set(nodes.flatMap(nodeInputs));
  const initializer: TensorProto[] = g.initializer.filter((t) => reads.has(t.name));
  const declared = new Map<string, ValueInfoProto>();
  for (const v of [...g.input, ...g.output, ...g.valueInfo]) declared.set(v.name, v);
  const input: ValueInfoProto[] = block.inputs
    .filter((x) => reads.has(x) || block.outputs.includes(x))
    .map((name) => {
      const elem = inputTypes.get(name);
      if (elem !== undefined) return { name, typeRaw: tensorTypeBytes(elem), type: { elemType: elem }, unknown: [] };
      const v = declared.get(name);
      if (!v) throw new Error(`${label}: no element type is known for its input ${name}`);
      return v;
    });
  // onnxruntime infers the type of an output declared by name only.
  const output: ValueInfoProto[] = block.outputs.map((name) => declared.get(name) ?? { name, type: {}, unknown: [] });
  const keepInfo = new Set([...reads, ...nodes.flatMap((n) => n.output)]);
  const valueInfo = g.valueInfo.filter((v) => keepInfo.has(v.name) && !block.outputs.includes(v.name));
  return {
    ...model,
    graph: { ...g, name: `${g.name ?? 'graph'}_block${block.index + 1}`, node: nodes, initializer, input, output, valueInfo },
  };
}
