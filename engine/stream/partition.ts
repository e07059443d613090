/**
 * Cuts a graph into blocks for block-streaming compression, from the graph itself (never from names).
 *
 * Nodes whose inputs are all initializers or constants ("constant nodes": Constant, weight Transposes
 * and Casts, shape arithmetic on constants) belong to no block; each block copies the ones it reads.
 * Every other node is placed in model order (ONNX requires topological order). After each node we count
 * the *live* tensors: produced so far and still read later (graph outputs count as read at the end).
 * A cut goes after every node, between the first and last quantized layer, where that count is at its
 * minimum over the range. In a transformer those are the points of the residual stream (the residual
 * plus the tensors every layer shares, such as the causal mask and rotary tables); in a plain
 * network, the activation between two layers. The pieces between cuts are merged forward until each
 * holds at least one calibrated layer.
 *
 * A block is then described by what it needs and gives, not by node indices: its inputs (graph
 * inputs and tensors earlier blocks produced) and its outputs (its layers' input tensors plus the
 * tensors later blocks read). {@link extractBlock} selects the nodes between them from any version
 * of the model (the FP one, or one with fake-quant weights), so the same block runs both ways.
 */
import type { GraphProto, NodeProto } from '../onnx/onnxProto';

/** One block of the partition. */
export interface StreamBlock {
  index: number;
  /** Planned calibrated layers whose node is in this block, in model order. */
  layers: string[];
  /** Tensors read from outside: graph inputs and tensors produced by earlier blocks. */
  inputs: string[];
  /** Tensors the block must produce: its layers' inputs (when produced here) and what later blocks read. */
  outputs: string[];
  /** Of `outputs`, those later blocks read (the activation cache holds them). */
  carried: string[];
  /** Names of the top-level nodes the block runs (its first and last, for messages). */
  firstNode: string;
  lastNode: string;
}

/** Tensors a node reads, including names its subgraphs (If/Loop/Scan bodies) take from the outer scope. */
export function nodeInputs(n: NodeProto): string[] {
  const names = n.input.filter(Boolean);
  for (const a of n.attribute) for (const g of [...(a.g ? [a.g] : []), ...a.graphs]) names.push(...outerScopeNames(g));
  return names;
}

function outerScopeNames(g: GraphProto): string[] {
  const local = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), ...g.node.flatMap((n) => n.output)]);
  return g.node.flatMap(nodeInputs).filter((x) => !local.has(x));
}

/** Ops whose output is metadata of their input, not its values. */
const SHAPE_OPS = new Set(['Shape', 'Size']);

/** Ops that must run at inference even with constant inputs (random generators). */
const NON_CONSTANT_OPS = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

/** The constant nodes (indices) and the tensors they produce. */
export function constantNodes(g: GraphProto): { nodes: Set<number>; tensors: Set<string> } {
  const tensors = new Set(g.initializer.map((t) => t.name));
  const graphInputs = new Set(g.input.map((i) => i.name));
  for (const n of g.initializer) graphInputs.delete(n.name);
  const nodes = new Set<number>();
  g.node.forEach((n, i) => {
    if (NON_CONSTANT_OPS.has(n.opType)) return;
    const ins = nodeInputs(n);
    if (ins.every((x) => tensors.has(x) && !graphInputs.has(x))) {
      nodes.add(i);
      for (const o of n.output) if (o) tensors.add(o);
    }
  });
  return { nodes, tensors };
}

/**
 * The partition of `g` for the given layers (name → its node and input tensor).
 * @throws Error when a layer's node is not in the graph.
 */
export function partitionGraph(g: GraphProto, layers: { name: string; node: NodeProto; input: string }[]): StreamBlock[] {
  if (!layers.length) return [];
  const consts = constantNodes(g);
  const inits = new Set(g.initializer.map((t) => t.name));
  const graphInputs = new Set(g.input.map((i) => i.name).filter((n) => !inits.has(n)));
  const position = new Map<NodeProto, number>();
  g.node.forEach((n, i) => position.set(n, i));
  const N = g.node.length;

  // Last reader of each produced (non-constant) tensor; graph outputs are read "after the end".
  const lastUse = new Map<string, number>();
  g.node.forEach((n, i) => {
    if (consts.nodes.has(i)) return;
    for (const x of nodeInputs(n)) if (!consts.tensors.has(x)) lastUse.set(x, i);
  });
  for (const o of g.output) lastUse.set(o.name, N);
  // Only data-carrying tensors count: those computed from the graph inputs' values. Shape metadata
  // (Shape/Size and what is computed from it, e.g. causal masks and rotary slices) is carried too, but
  // it is small and alive across every cut, so it does not decide where cuts go.
  const dataTensors = new Set(graphInputs);
  const live = new Int32Array(N);
  const dying = new Int32Array(N + 1);
  // Graph inputs are live from the start until their last reader (a skip connection from the input).
  let count = 0;
  for (const x of graphInputs) {
    const last = lastUse.get(x);
    if (last !== undefined) {
      count++;
      dying[last]++;
    }
  }
  g.node.forEach((n, i) => {
    if (!consts.nodes.has(i) && !SHAPE_OPS.has(n.opType) && nodeInputs(n).some((x) => dataTensors.has(x))) {
      for (const o of n.output) {
        if (!o) continue;
        dataTensors.add(o);
        const last = lastUse.get(o);
        if (last !== undefined && last > i) {
          count++;
          dying[last]++;
        }
      }
    }
    count -= dying[i];
    live[i] = count;
  });

  const layerPos = layers.map((l) => {
    const p = position.get(l.node);
    if (p === undefined) throw new Error(`partition: the node of layer ${l.name} is not in the graph`);
    return p;
  });
  const first = Math.min(...layerPos),
    last = Math.max(...layerPos);
  let min = Infinity;
  for (let i = first; i < last; i++) if (!consts.nodes.has(i)) min = Math.min(min, live[i]);
  const cuts: number[] = [];
  for (let i = first; i < last; i++) if (!consts.nodes.has(i) && live[i] === min) cuts.push(i);

  // Pieces: (cut[k-1], cut[k]]; layers go to the piece holding their node; empty pieces merge forward.
  const bounds = [...cuts, N - 1];
  const pieceOf = (p: number) => bounds.findIndex((b) => p <= b);
  const pieces: { end: number; layers: { name: string; pos: number; input: string }[] }[] = bounds.map((end) => ({ end, layers: [] }));
  layers.forEach((l, k) => pieces[pieceOf(layerPos[k])].layers.push({ name: l.name, pos: layerPos[k], input: l.input }));
  const merged: { start: number; end: number; layers: { name: string; pos: number; input: string }[] }[] = [];
  let start = 0;
  for (const p of pieces) {
    if (!p.layers.length) continue;
    merged.push({ start, end: p.end, layers: p.layers });
    start = p.end + 1;
  }
  merged[merged.length - 1].end = N - 1;

  // Walk back from the last block: each block produces what it and later blocks need from it.
  const blocks: StreamBlock[] = [];
  let needed = new Set<string>();
  for (let b = merged.length - 1; b >= 0; b--) {
    const m = merged[b];
    const produced = new Map<string, number>();
    for (let i = m.start; i <= m.end; i++) if (!consts.nodes.has(i)) for (const o of g.node[i].output) if (o) produced.set(o, i);
    const layerInputs = [...new Set(m.layers.map((l) => l.input))];
    const carried = [...needed].filter((x) => produced.has(x));
    const want = [...new Set([...layerInputs.filter((x) => produced.has(x)), ...carried])];
    // Nodes of the block that lead to `want`.
    const keep = new Set<number>();
    const stack = [...want];
    const reads = new Set<string>();
    const seen = new Set<string>();
    while (stack.length) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      const i = produced.get(t);
      if (i === undefined) {
        reads.add(t);
        continue;
      }
      if (keep.has(i)) continue;
      keep.add(i);
      for (const x of nodeInputs(g.node[i])) if (!consts.tensors.has(x)) stack.push(x);
    }
    for (const x of layerInputs) if (!produced.has(x)) reads.add(x);
    const inputs = [...reads].filter((x) => graphInputs.has(x) || !inits.has(x));
    const kept = [...keep].sort((a, c) => a - c);
    blocks.unshift({
      index: b,
      layers: m.layers.sort((a, c) => a.pos - c.pos).map((l) => l.name),
      inputs,
      outputs: want,
      carried,
      firstNode: g.node[kept[0] ?? m.start]?.name ?? `#${m.start}`,
      lastNode: g.node[kept[kept.length - 1] ?? m.end]?.name ?? `#${m.end}`,
    });
    needed = new Set([...[...needed].filter((x) => !produced.has(x)), ...inputs.filter((x) => !graphInputs.has(x))]);
  }
  if (needed.size) throw new Error(`partition: tensors ${[...needed].slice(0, 3).join(', ')} are read but produced by no node`);
  return blocks;
}
