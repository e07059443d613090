/**
 * Blocks of plan layers for sequential calibration: the graph partition of engine/stream/partition.ts
 * (points of the residual stream in a transformer, one layer or a run of layers otherwise), the same
 * blocks the streamed path runs, so both give the same codes. Plan layers without calibration
 * statistics (ops outside CALIBRATED_OPS) form one last block.
 */
import type { OnnxModel } from '../onnx/model';
import { partitionGraph } from '../stream/partition';

export function graphBlocks<T extends { name: string }>(
  layers: T[],
  model: OnnxModel,
  calibrated: { name: string; input: string }[],
): T[][] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const parts = partitionGraph(
    model.graph,
    calibrated.filter((c) => byName.has(c.name)).map((c) => ({ name: c.name, node: model.layer(c.name).nodeRef, input: c.input })),
  );
  const blocks = parts.map((p) => p.layers.map((n) => byName.get(n)!));
  const placed = new Set(parts.flatMap((p) => p.layers));
  const rest = layers.filter((l) => !placed.has(l.name));
  return rest.length ? [...blocks, rest] : blocks;
}
