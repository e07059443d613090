/**
 * What a compression leaves alone: every float tensor (initializer or Constant, subgraphs included)
 * of at least `minBytes` that no compressed layer stores, with the reason and its share of the file.
 * `lowbit inspect` lists them for a plan that compresses every quantizable layer; the report lists
 * them for the job's plan (rule skips named).
 */
import type { LeftAloneTensor } from '../../protocol/model';
import type { GraphProto, NodeProto, TensorProto } from './onnxProto';
import { DT } from './tensor';
import type { LayerRecord } from './layers';

/** Tensors smaller than this are not listed (biases, norms, shape constants). */
export const LEFT_ALONE_MIN_BYTES = 16 * 1024;

// ONNX data types: FLOAT 1, FLOAT16 10, DOUBLE 11, BFLOAT16 16.
const FLOAT_BYTES: Record<number, number> = { [DT.FLOAT]: 4, [DT.FLOAT16]: 2, 11: 8, 16: 2 };

interface Found {
  name: string;
  bytes: number;
  place: string;
  consumers: NodeProto[];
}

/** Float constants of `g` and its subgraphs, each with the nodes of its own graph reading it. */
function floatConstants(g: GraphProto, place: string, out: Found[]): void {
  // A node reads a name through its inputs or, for If/Loop/Scan, through its subgraphs (outer-scope names).
  const readers = new Map<string, NodeProto[]>();
  const names = (n: NodeProto, into: Set<string>): Set<string> => {
    for (const i of n.input) if (i) into.add(i);
    for (const a of n.attribute) for (const s of [...(a.g ? [a.g] : []), ...a.graphs]) for (const m of s.node) names(m, into);
    return into;
  };
  for (const n of g.node) for (const i of names(n, new Set())) readers.set(i, [...(readers.get(i) ?? []), n]);
  const add = (t: TensorProto, name: string) => {
    const size = FLOAT_BYTES[t.dataType];
    if (!size) return;
    out.push({ name, bytes: size * t.dims.reduce((a, b) => a * b, 1), place, consumers: readers.get(name) ?? [] });
  };
  for (const t of g.initializer) add(t, t.name);
  g.node.forEach((n, i) => {
    const v = n.opType === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (v && n.output[0]) add(v, n.output[0]);
    for (const a of n.attribute) {
      const sub = [...(a.g ? [a.g] : []), ...a.graphs];
      for (const s of sub) floatConstants(s, `${place}${n.name || `${n.opType}_${i}`}/${a.name}/`, out);
    }
  });
}

/**
 * The left-alone tensors of `graph`, largest first. `layers` are the discovered layers; `compressed`
 * names the layers the plan stores compactly; `skippedBy` gives the rule that skipped a layer.
 */
export function leftAloneTensors(
  graph: GraphProto,
  layers: readonly LayerRecord[],
  compressed: ReadonlySet<string>,
  fileBytes: number,
  opts: { skippedBy?: ReadonlyMap<string, number>; minBytes?: number; notes?: ReadonlyMap<string, string> } = {},
): LeftAloneTensor[] {
  const minBytes = opts.minBytes ?? LEFT_ALONE_MIN_BYTES;
  const bySource = new Map<string, LayerRecord[]>();
  for (const l of layers) bySource.set(l.ref.source, [...(bySource.get(l.ref.source) ?? []), l]);
  const found: Found[] = [];
  floatConstants(graph, '', found);
  const out: LeftAloneTensor[] = [];
  for (const f of found) {
    if (f.bytes < minBytes) continue;
    // Layers storing this tensor: in a subgraph, the one named by its place; in the main graph, any
    // layer reading it (subgraphs read outer-scope weights by name).
    const mine = (bySource.get(f.name) ?? []).filter((l) => !f.place || l.name === `${f.place}${f.name}`);
    if (mine.some((l) => compressed.has(l.name))) continue;
    let reason: string;
    const skipped = mine.find((l) => opts.skippedBy?.has(l.name));
    if (skipped) reason = `rule ${opts.skippedBy!.get(skipped.name)! + 1} said skip`;
    else if (mine.some((l) => opts.notes?.has(l.name)))
      reason = `written as float weights: ${opts.notes!.get(mine.find((l) => opts.notes?.has(l.name))!.name)}`;
    else if (mine.some((l) => l.quantizable && l.embedding))
      reason = 'embedding lookup (Gather) table, opt-in: a layers: rule that matches it quantizes it';
    else if (mine.some((l) => l.quantizable)) reason = 'not in the plan';
    else if (mine.length) reason = mine[0].reason ?? 'not quantizable';
    else if (!f.consumers.length)
      reason = f.place ? `read by no node of its subgraph (${f.place.slice(0, -1)})` : 'read by no node of its graph';
    else if (f.consumers.every((n) => n.attribute.some((a) => a.g || a.graphs.length) && !n.input.includes(f.name))) {
      reason = `read inside the subgraphs of ${[...new Set(f.consumers.map((n) => n.name || n.opType))].join(', ')}, by no layer`;
    } else if (f.place)
      reason = `op not supported: read by ${[...new Set(f.consumers.map((n) => n.opType))].join(', ')} inside ${f.place.slice(0, -1)}`;
    else
      reason = `op not supported: read by ${[...new Set(f.consumers.map((n) => `${n.domain ? `${n.domain}.` : ''}${n.opType}`))].join(', ')}`;
    out.push({ name: `${f.place}${f.name}`, bytes: f.bytes, share: fileBytes > 0 ? f.bytes / fileBytes : 0, reason });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}
