/**
 * Frees a finished block's folded weights from the running model (issue 11). AWQ / SmoothQuant / OS+ /
 * JSQ fold each block's input scales into a running copy of the model (streamBlocks.ts): every folded
 * weight is a new fp32 (or fp16) initializer in memory, so the running model used to hold all of them
 * until the export — for an all-AWQ plan, the whole model's weights.
 *
 * Once a block's layers are quantized, nothing needs their folded weights: a block's fold writes only
 * tensors computed inside that block (foldStreaming.ts), its sequential passes run before the release,
 * and the export writes a quantized layer from its codes and drops the stored weight. So the bytes
 * are released in place: the tensor's `rawData` becomes a getter that rebuilds them when something
 * reads it (nothing does in a job), by folding the block's transforms again into the model its fold
 * started from. That is the same code on the same values, so the same bytes (the stream tests compare
 * every initializer with the whole-model path's), and the running model stays a whole, exact model.
 * Folded weights of layers that are not quantized (a skipped reader of a scaled input, an unplanned
 * linear that absorbs a scale) are kept: the export writes them. Norms' γ/β and inserted constants are
 * vectors and are kept too.
 */
import type { OnnxModel } from '../onnx/model';
import type { TensorProto } from '../onnx/onnxProto';
import { foldInputTransforms, type InputTransform } from '../transforms';

/** One block's folds, to be done again: the model before them, the transforms, the layers frozen then. */
export class FoldReplay {
  /** The last rebuild, while something still uses it: reading a block's weights one after another folds once. */
  private last?: WeakRef<OnnxModel>;
  private readonly frozen: ReadonlySet<string>;

  constructor(
    private readonly before: OnnxModel,
    private readonly transforms: InputTransform[],
    frozen: ReadonlySet<string>,
    /** Names the block in errors. */
    readonly label: string,
  ) {
    this.frozen = new Set(frozen);
  }

  /** The stored bytes the block's fold wrote for tensor `name` (`length` of them). */
  bytes(name: string, length: number): Uint8Array {
    let m = this.last?.deref();
    if (!m) {
      m = foldInputTransforms(this.before, this.transforms, { frozen: this.frozen }).model;
      this.last = new WeakRef(m);
    }
    const t = m.graph.initializer.find((x) => x.name === name);
    if (!t?.rawData || t.rawData.length !== length)
      throw new Error(
        `${this.label}: the folded weight '${name}' cannot be rebuilt: the block's fold ${t?.rawData ? `writes ${t.rawData.length} bytes, not ${length}` : 'does not write it'}`,
      );
    return t.rawData;
  }
}

/**
 * Releases the folded weights of `layers` (quantized, their block finished) in `running`; returns the
 * bytes released. A weight is released only when the block's fold wrote it: an inline tensor that is
 * not one of `input`'s (the model the stream started from), read without a Transpose/Cast chain.
 */
export function releaseFoldedWeights(running: OnnxModel, input: OnnxModel, layers: readonly string[], replay: FoldReplay): number {
  const original = new Set(input.graph.initializer);
  let released = 0;
  for (const name of layers) {
    const ref = running.layer(name).ref;
    const t = ref.stored;
    if (ref.chain.length || original.has(t) || t.dataLocation === 1) continue;
    const own = Object.getOwnPropertyDescriptor(t, 'rawData');
    if (!own || !('value' in own) || !(own.value instanceof Uint8Array)) continue;
    released += own.value.length;
    rebuildOnRead(t, own.value.length, replay);
  }
  return released;
}

/**
 * Makes `t.rawData` the rebuilding getter. Made in its own function, so that the getter's closure
 * holds only the tensor's name and the replay, never the released bytes (see releaseDequant.ts).
 */
function rebuildOnRead(t: TensorProto, length: number, replay: FoldReplay): void {
  const name = t.name;
  Object.defineProperty(t, 'rawData', { get: () => replay.bytes(name, length), enumerable: true, configurable: true });
}
