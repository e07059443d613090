/**
 * Raises the default-domain opset for QDQ export (DequantizeLinear axis: 13, block_size/int4: 21),
 * rewriting the ops whose attributes became inputs on the way. Refuses models older than opset 11,
 * where too many ops changed meaning.
 */
import type { NodeProto } from '../onnx/onnxProto';
import { makeInt64Tensor } from '../onnx/tensor';
import type { GraphEditor } from './graphEdit';
import { ExportUnsupported } from './pack';

/** Ops whose `axes` attribute moved to an input, with the opset where that happened. */
const AXES_TO_INPUT: Record<string, number> = {
  Squeeze: 13, Unsqueeze: 13, ReduceSum: 13,
  ReduceMean: 18, ReduceMax: 18, ReduceMin: 18, ReduceProd: 18, ReduceL1: 18, ReduceL2: 18,
  ReduceLogSum: 18, ReduceLogSumExp: 18, ReduceSumSquare: 18,
};

/** Ops whose opset-11+ semantics changed incompatibly before `to` in ways we do not rewrite. */
const UNSUPPORTED: Record<string, number> = { Scatter: 11, Upsample: 10 };

function isStd(n: NodeProto): boolean { return !n.domain || n.domain === 'ai.onnx'; }

/** Current default-domain opset of the edited model. */
export function currentOpset(ed: GraphEditor): number {
  return ed.model.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
}

/**
 * Upgrades the edited model's default opset to at least `to`. Throws ExportUnsupported (with the
 * reason) when it cannot be done safely.
 */
export function upgradeOpset(ed: GraphEditor, to: number): void {
  const from = currentOpset(ed);
  if (from >= to) return;
  if (from < 11) throw new ExportUnsupported(`QDQ needs opset ${to} but the model is opset ${from}; upgrading from below 11 is not supported`);
  for (const n of ed.graph.node) {
    if (isStd(n) && UNSUPPORTED[n.opType] !== undefined) throw new ExportUnsupported(`QDQ needs opset ${to}; op ${n.opType} (node '${n.name}') cannot be carried over`);
  }
  for (const n of ed.graph.node.slice()) {
    if (!isStd(n)) continue;
    if (n.opType === 'Split' && from < 13 && to >= 13) {
      const a = n.attribute.find((x) => x.name === 'split');
      if (a) moveToInput(ed, n, 'split', a.ints, 1);
    }
    const at = AXES_TO_INPUT[n.opType];
    if (at !== undefined && from < at && to >= at) {
      const a = n.attribute.find((x) => x.name === 'axes');
      if (a) moveToInput(ed, n, 'axes', a.ints, 1);
    }
  }
  ed.requireOpset('', to);
}

function moveToInput(ed: GraphEditor, old: NodeProto, attrName: string, values: number[], index: number): void {
  const n = ed.cloneNode(old);
  n.attribute = n.attribute.filter((a) => a.name !== attrName);
  const name = ed.unique(`${n.name || n.opType}_${attrName}`);
  ed.addInitializer(makeInt64Tensor(name, values));
  while (n.input.length < index) n.input.push('');
  n.input[index] = name;
}
