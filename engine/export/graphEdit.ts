/**
 * Copy-on-write edits of a model's top-level graph: new initializers and nodes, input rewiring,
 * unique names, opset imports, and removal of constants that became unused.
 */
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from '../onnx/onnxProto';
import { isPassThrough } from '../onnx/constants';

/** Names every node of `g` (and its subgraphs) reads, plus the graph outputs. */
export function usedNames(g: GraphProto, into = new Set<string>()): Set<string> {
  for (const n of g.node) {
    for (const i of n.input) if (i) into.add(i);
    for (const a of n.attribute) {
      if (a.g) usedNames(a.g, into);
      for (const sg of a.graphs) usedNames(sg, into);
    }
  }
  for (const o of g.output) into.add(o.name);
  return into;
}

const attrOf = (name: string, type: number, v: Partial<AttributeProto>): AttributeProto => ({
  name,
  type,
  floats: [],
  ints: [],
  strings: [],
  tensors: [],
  graphs: [],
  unknown: [],
  ...v,
});

/** Attribute helpers. */
export const attr = {
  int(name: string, i: number): AttributeProto {
    return attrOf(name, 2, { i });
  },
  str(name: string, v: string): AttributeProto {
    return attrOf(name, 3, { s: new TextEncoder().encode(v) });
  },
  tensor(name: string, t: TensorProto): AttributeProto {
    return attrOf(name, 4, { t });
  },
  ints(name: string, v: number[]): AttributeProto {
    return attrOf(name, 7, { ints: v });
  },
};

/** A node with the given op, inputs, outputs and attributes. */
export function makeNode(
  opType: string,
  input: string[],
  output: string[],
  name: string,
  attributes: AttributeProto[] = [],
  domain?: string,
): NodeProto {
  const n: NodeProto = { opType, input, output, name, attribute: attributes, unknown: [] };
  if (domain) n.domain = domain;
  return n;
}

/** Edits a shallow copy of a model; the source model's objects are never mutated. */
export class GraphEditor {
  readonly model: ModelProto;
  readonly graph: GraphProto;
  private readonly names = new Set<string>();
  private readonly scopes = new Map<string, GraphEditor>();

  /**
   * `parent`: this edits a subgraph (`src.graph`) of the parent's model. It shares the parent's opset
   * imports (so opset changes apply to the whole model) and avoids the parent's names.
   */
  constructor(src: ModelProto, parent?: GraphEditor) {
    const g = src.graph!;
    this.graph = {
      ...g,
      node: g.node.slice(),
      initializer: g.initializer.slice(),
      input: g.input.slice(),
      output: g.output.slice(),
      valueInfo: g.valueInfo.slice(),
    };
    this.model = parent
      ? { ...parent.model, graph: this.graph }
      : { ...src, opsetImport: src.opsetImport.map((o) => ({ ...o })), graph: this.graph };
    if (parent) for (const n of parent.names) this.names.add(n);
    for (const t of g.initializer) this.names.add(t.name);
    for (const n of g.node) {
      for (const o of n.output) this.names.add(o);
      if (n.name) this.names.add(n.name);
    }
    for (const v of g.input) this.names.add(v.name);
  }

  /**
   * An editor for the subgraph reached through `path` ((node, graph attribute) steps from this graph).
   * The nodes along the path are copied once, so the source model is never changed; later calls for
   * the same subgraph return the same editor.
   */
  scope(path: readonly { node: NodeProto; attr: string }[]): GraphEditor {
    if (!path.length) return this;
    const [{ node, attr }, ...rest] = path;
    const key = `${node.name}\u0000${node.opType}\u0000${node.output[0]}\u0000${attr}`;
    let child = this.scopes.get(key);
    if (!child) {
      const cur = this.graph.node.find(
        (n) => n === node || (n.name === node.name && n.opType === node.opType && n.output[0] === node.output[0]),
      );
      if (!cur) throw new Error(`node '${node.name || node.opType}' holding subgraph '${attr}' is not in the graph`);
      const copy = this.cloneNode(cur);
      const i = copy.attribute.findIndex((a) => a.name === attr && a.g);
      if (i < 0) throw new Error(`node '${node.name || node.opType}' has no subgraph '${attr}'`);
      child = new GraphEditor({ ...this.model, graph: copy.attribute[i].g! }, this);
      copy.attribute[i] = { ...copy.attribute[i], g: child.graph };
      this.scopes.set(key, child);
    }
    return child.scope(rest);
  }

  /** Editors of the subgraphs opened with `scope`, depth first. */
  subEditors(): GraphEditor[] {
    return [...this.scopes.values()].flatMap((c) => [c, ...c.subEditors()]);
  }

  /** A name not used yet in the graph, based on `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Whether `name` is read by exactly one node input in the whole graph and is not a graph output. */
  usedOnce(name: string): boolean {
    let count = 0;
    const visit = (g: GraphProto): void => {
      for (const n of g.node) {
        for (const i of n.input) if (i === name) count++;
        for (const a of n.attribute) {
          if (a.g) visit(a.g);
          a.graphs.forEach(visit);
        }
      }
    };
    visit(this.graph);
    return count === 1 && !this.graph.output.some((o) => o.name === name);
  }

  /** Removes the stored tensor `name` (initializer or Constant node) so the name can be reused. */
  dropStored(name: string): void {
    this.graph.initializer = this.graph.initializer.filter((t) => t.name !== name);
    this.graph.input = this.graph.input.filter((v) => v.name !== name);
    this.graph.node = this.graph.node.filter((n) => !(n.opType === 'Constant' && n.output[0] === name));
    this.names.delete(name);
  }

  addInitializer(t: TensorProto): void {
    this.names.add(t.name);
    this.graph.initializer.push(t);
  }

  /** Replaces `old` by a (shallow) copy and returns the copy for editing. */
  cloneNode(old: NodeProto): NodeProto {
    const idx = this.graph.node.indexOf(old);
    if (idx < 0) throw new Error(`node '${old.name}' is not in the graph`);
    const copy: NodeProto = { ...old, input: old.input.slice(), output: old.output.slice(), attribute: old.attribute.slice() };
    this.graph.node[idx] = copy;
    return copy;
  }

  /** Inserts nodes right before `anchor` (keeps the graph topologically sorted). */
  insertBefore(anchor: NodeProto, ...nodes: NodeProto[]): void {
    const idx = this.graph.node.indexOf(anchor);
    this.graph.node.splice(idx < 0 ? this.graph.node.length : idx, 0, ...nodes);
  }

  /** Inserts nodes right after `anchor`. */
  insertAfter(anchor: NodeProto, ...nodes: NodeProto[]): void {
    const idx = this.graph.node.indexOf(anchor);
    this.graph.node.splice(idx < 0 ? this.graph.node.length : idx + 1, 0, ...nodes);
  }

  replaceNode(old: NodeProto, ...nodes: NodeProto[]): void {
    const idx = this.graph.node.indexOf(old);
    if (idx < 0) throw new Error(`node '${old.name}' is not in the graph`);
    this.graph.node.splice(idx, 1, ...nodes);
  }

  /** Ensures an opset import for `domain` of at least `version`. */
  requireOpset(domain: string, version: number): void {
    const o = this.model.opsetImport.find((x) => x.domain === domain || (domain === '' && x.domain === 'ai.onnx'));
    if (!o) this.model.opsetImport.push({ domain, version, unknown: [] });
    else if (o.version < version) o.version = version;
  }

  /** Removes initializers, Constant nodes and constant reshaping nodes whose outputs nobody reads. */
  prune(): void {
    for (;;) {
      const used = usedNames(this.graph);
      const before = this.graph.node.length;
      this.graph.node = this.graph.node.filter(
        (n) => !((n.opType === 'Constant' || isPassThrough(n)) && n.output.every((o) => !used.has(o))),
      );
      if (this.graph.node.length === before) break;
    }
    const used = usedNames(this.graph);
    const dead = new Set(this.graph.initializer.filter((t) => !used.has(t.name)).map((t) => t.name));
    this.graph.initializer = this.graph.initializer.filter((t) => !dead.has(t.name));
    this.graph.input = this.graph.input.filter((v) => !dead.has(v.name));
    this.graph.valueInfo = this.graph.valueInfo.filter((v) => used.has(v.name) || this.graph.node.some((n) => n.output.includes(v.name)));
  }
}
