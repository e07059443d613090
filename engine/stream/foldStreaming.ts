/**
 * Whether the activation-aware methods (AWQ / SmoothQuant / OS+) of a plan can run block by block.
 * Their input scale folds into the group's producer (a norm's γ, a previous linear, or an inserted Mul,
 * engine/transforms/fold.ts). Streamed, each block's scales are searched on that block's statistics and
 * folded into the running model before the block is quantized, so:
 * - a group's layers must lie in one block (they share one scale, searched once);
 * - a norm or an unplanned linear that absorbs the scale must be computed inside that block: a
 *   producer in an earlier block has already run, and the activations it left in the cache would not
 *   see the fold. A planned linear in an earlier block is already quantized and gets a Mul instead
 *   (as in whole-model sequential calibration).
 */
import type { LayerPlan } from '../../protocol/plan';
import type { OnnxModel } from '../onnx/model';
import type { NodeProto } from '../onnx/onnxProto';
import { ACTIVATION_AWARE } from '../quantize/activationAware';
import { scaleGroups } from '../transforms';
import { blockNodes } from './blockModel';
import type { StreamBlock } from './partition';

/** The first reason the plan's folding methods cannot stream over `blocks` (naming the layers), or undefined. */
export function foldStreamingObstacle(
  model: OnnxModel,
  blocks: StreamBlock[],
  layers: Pick<LayerPlan, 'name' | 'method'>[],
): string | undefined {
  const folding = new Set(layers.filter((l) => ACTIVATION_AWARE.has(l.method)).map((l) => l.name));
  if (!folding.size) return undefined;
  const planned = new Set(layers.map((l) => l.name));
  const blockOf = new Map<string, StreamBlock>();
  for (const b of blocks) for (const n of b.layers) blockOf.set(n, b);
  const nodesOf = new Map<StreamBlock, Set<NodeProto>>();
  for (const g of scaleGroups(model)) {
    if (!g.layers.some((n) => folding.has(n))) continue;
    const owners = new Set(g.layers.map((n) => blockOf.get(n)));
    if (owners.size > 1 || owners.has(undefined))
      return `layers ${g.layers.join(', ')} share the input '${g.tensor}' but are not in one block`;
    const b = [...owners][0]!;
    const pr = g.producer;
    const producers =
      pr.kind === 'norm'
        ? [pr.node, pr.biasNode]
        : pr.kind === 'linear' && !planned.has(pr.layer)
          ? [model.layer(pr.layer).nodeRef, pr.viaMul]
          : [];
    if (!producers.some(Boolean)) continue;
    let inside = nodesOf.get(b);
    if (!inside) nodesOf.set(b, (inside = new Set(blockNodes(model.graph, b.inputs, b.outputs, `block ${b.index + 1}`))));
    const outside = producers.find((n) => n && !inside.has(n));
    if (outside)
      return `the input scale of layers ${g.layers.join(', ')} folds into ${outside.opType} '${outside.name}', which runs in an earlier block`;
  }
  return undefined;
}
