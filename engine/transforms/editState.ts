/**
 * Editing state shared by the transforms: a GraphEditor plus the current value of every constant
 * rewritten so far (so several folds into one tensor compose) and the live copy of each edited node.
 */
import { GraphEditor, makeNode } from '../export/graphEdit';
import { OnnxModel } from '../onnx/model';
import type { NodeProto } from '../onnx/onnxProto';
import { DT, makeFloatTensor } from '../onnx/tensor';

/** A float constant as currently stored in the edited graph. */
export interface ConstValue {
  name: string;
  data: Float32Array;
  dims: number[];
  dtype: number;
}

export class EditState {
  readonly ed: GraphEditor;
  private readonly live = new Map<NodeProto, NodeProto>();
  private readonly values = new Map<string, ConstValue>();

  constructor(readonly model: OnnxModel) {
    // External weights stay references (resolved from model.src, which the result keeps).
    this.ed = new GraphEditor(model.proto);
  }

  /** The editable copy of a node of the source model (cloned on first use). */
  node(n: NodeProto): NodeProto {
    let c = this.live.get(n);
    if (!c) {
      c = this.ed.cloneNode(n);
      this.live.set(n, c);
      this.live.set(c, c);
    }
    return c;
  }

  /** Current value of the constant read by `node.input[k]` (must be an initializer/Constant, no chain). */
  read(node: NodeProto, k: number): ConstValue {
    const name = this.node(node).input[k];
    const have = this.values.get(name);
    if (have) return { ...have, data: have.data.slice() };
    const ref = this.model.consts.resolve(name);
    if (!ref || ref.chain.length)
      throw new Error(`${this.model.path}: input ${k} of ${node.opType} '${node.name}' ('${name}') is not a stored constant`);
    const { data, dims } = this.model.consts.value(ref);
    return { name, data: Float32Array.from(data), dims: dims.slice(), dtype: ref.stored.dataType === DT.FLOAT16 ? DT.FLOAT16 : DT.FLOAT };
  }

  /**
   * Writes a new value for `node.input[k]`. The stored tensor keeps its name when this is its only
   * reader (so layer names, = weight names, stay stable); otherwise a fresh copy is made and rewired.
   */
  write(node: NodeProto, k: number, v: ConstValue, keepName = false): void {
    const n = this.node(node);
    const name = n.input[k];
    let target = name;
    if (!keepName && !this.values.has(name) && !this.ed.usedOnce(name)) {
      target = this.ed.unique(`${name}_folded`);
      n.input[k] = target;
    } else {
      this.ed.dropStored(name);
    }
    this.ed.addInitializer(makeFloatTensor(target, v.dims, v.data, v.dtype));
    this.values.set(target, { ...v, name: target });
  }

  /**
   * Points `node.input[k]` at a new initializer named `base` (made unique) holding `v`, and records it
   * as that input's current value: unties an input from a tensor it shares (e.g. a tied LM head).
   */
  rewire(node: NodeProto, k: number, base: string, v: Omit<ConstValue, 'name'>): string {
    const name = this.ed.unique(base);
    this.ed.addInitializer(makeFloatTensor(name, v.dims, v.data, v.dtype));
    this.values.set(name, { ...v, name });
    this.node(node).input[k] = name;
    return name;
  }

  /** Stored element type (FLOAT or FLOAT16) of a layer's activations, taken from its weight. */
  layerDtype(layer: string): number {
    return this.model.layer(layer).dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT;
  }

  /** Adds a float initializer with a unique name based on `base`; returns the name. */
  constant(base: string, data: Float32Array, dims: number[] = [data.length], dtype: number = DT.FLOAT): string {
    const name = this.ed.unique(base);
    this.ed.addInitializer(makeFloatTensor(name, dims, data, dtype));
    return name;
  }

  /**
   * Inserts `op(tensor, const)` right before the first of `readers` and points
   * the given reader nodes at its output. Returns the new tensor's name.
   */
  insertElementwise(op: 'Mul' | 'Add', tensor: string, constData: Float32Array, readers: NodeProto[], dtype: number = DT.FLOAT): string {
    const c = this.constant(`${tensor}_${op === 'Mul' ? 'inv_scale' : 'shift'}`, constData, [constData.length], dtype);
    const out = this.ed.unique(`${tensor}_${op === 'Mul' ? 'scaled' : 'shifted'}`);
    const node = makeNode(op, [tensor, c], [out], this.ed.unique(`${tensor}_${op}_transform`));
    const nodes = this.ed.graph.node;
    const live = readers.map((r) => this.node(r)).sort((a, b) => nodes.indexOf(a) - nodes.indexOf(b));
    this.ed.insertBefore(live[0], node);
    for (const r of live) r.input = r.input.map((i) => (i === tensor ? out : i));
    return out;
  }

  /** The edited model (a new OnnxModel; the source model is untouched). */
  result(): OnnxModel {
    this.ed.prune();
    return new OnnxModel(this.ed.model, this.model.path, this.model.src, this.model.fileBytes);
  }
}
