/**
 * The activation-aware step before weight quantization (AWQ, SmoothQuant, OS+): per group of planned
 * layers sharing an input, search/compute the input scale (and OS+ shift), fold all groups exactly into
 * a copy of the model (engine/transforms), re-express the calibration statistics for the folded input
 * x̃ = (x − z)/s (H' = diag(1/s)·H·diag(1/s), |x| stats ÷ s), and, when `activation_bits` is set,
 * insert static per-tensor activation QDQ (symmetric absmax of x̃) before those layers.
 * The weights quantized afterwards are the folded model's (W·diag s); nothing is applied twice.
 */
import type { LayerPlan, Method } from '../../protocol/plan';
import { Hessian } from '../../native/ts/index';
import type { InputStatistics } from '../calibrate/inputStatistics';
import { ChannelStats } from '../calibrate/channelStats';
import type { OnnxModel } from '../onnx/model';
import {
  foldInputTransforms,
  insertActivationQdq,
  scaleGroups,
  symmetricActivationQuant,
  type ActivationQuant,
  type FoldedGroup,
  type InputTransform,
} from '../transforms';
import { awqGroupSearch } from './awq';
import { quadraticForm, type GroupMember } from './groupLoss';
import type { PreparedDetails } from './kernelTypes';
import { osplusGroupSearch } from './osplus';
import { smoothQuantGroupScales } from './smoothquant';
import { settingsOf } from './methodSettings';
import { jsqGroup, jsqMasks } from './jsq';

/** Methods that need this step. */
export const ACTIVATION_AWARE: ReadonlySet<Method> = new Set<Method>(['awq', 'smoothquant', 'osplus', 'jsq']);

/** Per-layer outcome of the step (merged into the layer report). */
export type { PreparedDetails } from './kernelTypes';

/** The folded model and everything quantization needs from it. */
export interface Prepared {
  model: OnnxModel;
  /** Statistics keyed by the folded model's layer inputs. */
  stats: Map<string, InputStatistics>;
  /** Layers that went through the step, with their report details. */
  details: Map<string, PreparedDetails>;
  groups: FoldedGroup[];
  /** Groups whose non-trivial scale went into an inserted Mul (no producer to absorb it). */
  viaMul: FoldedGroup[];
  warnings: string[];
  /** The transforms folded (with the step's `frozen` set, they rebuild the folded weights exactly: stream/releaseFolded.ts). */
  transforms: InputTransform[];
}

/** The warning for groups folded through an inserted Mul (none when the list is empty). */
export function viaMulWarnings(viaMul: FoldedGroup[]): string[] {
  if (!viaMul.length) return [];
  return [
    `activation-aware scaling: ${viaMul.length} input group(s) (${viaMul
      .slice(0, 3)
      .map((g) => g.layers.join('+'))
      .join(
        ', ',
      )}${viaMul.length > 3 ? ', …' : ''}) have no per-channel producer to fold into (${viaMul[0].reason ?? 'unknown'}); an explicit Mul by 1/s was inserted`,
  ];
}

/** Statistics of x̃ = (x − z)/s from those of x (H is rescaled only; see osplus.ts for the shift). */
function transformedStats(
  src: InputStatistics,
  s: Float32Array,
  z: Float32Array | undefined,
  clippedAbsMax?: Float64Array,
): InputStatistics {
  const n = src.n;
  const hessian = new Hessian(n);
  const H = src.hessian.matrix(),
    Hs = hessian.matrix();
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) Hs[a * n + b] = H[a * n + b] / (s[a] * s[b]);
  const stats = new ChannelStats(n);
  stats.tokens = src.stats.tokens;
  for (let j = 0; j < n; j++) {
    const zj = z ? z[j] : 0;
    stats.min[j] = (src.stats.min[j] - zj) / s[j];
    stats.max[j] = (src.stats.max[j] - zj) / s[j];
    stats.absMax[j] = z ? Math.max(Math.abs(stats.min[j]), Math.abs(stats.max[j])) : (clippedAbsMax ?? src.stats.absMax)[j] / s[j];
    stats.absSum[j] = src.stats.absSum[j] / s[j]; // exact without a shift; an estimate with one
  }
  return { tensor: src.tensor, n, hessian, stats, layers: src.layers.slice() };
}

function rangeOf(s: Float32Array): [number, number] {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of s) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}

/**
 * Runs the step for the plan's awq/smoothquant/osplus layers. Returns the input model and stats
 * unchanged when the plan has none.
 * @throws Error naming the layers when a group mixes activation-aware methods or lacks statistics
 */
export async function prepareActivationAware(opts: {
  layers: LayerPlan[];
  model: OnnxModel;
  stats: Map<string, InputStatistics>;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Layers already quantized (sequential calibration): their weights are left as they are. */
  frozen?: ReadonlySet<string>;
}): Promise<Prepared> {
  const { model, stats, signal } = opts;
  const threads = opts.threads ?? 0;
  const planned = new Map(opts.layers.filter((l) => ACTIVATION_AWARE.has(l.method)).map((l) => [l.name, l]));
  if (!planned.size) return { model, stats, details: new Map(), groups: [], viaMul: [], warnings: [], transforms: [] };
  const groups = scaleGroups(model).filter((g) => g.layers.some((n) => planned.has(n)));
  const transforms: (InputTransform & { scale: Float32Array })[] = [];
  const details = new Map<string, PreparedDetails>();
  const newStats = new Map<string, { stats: InputStatistics; actBits?: number; members: string[] }>();
  let done = 0;
  for (const g of groups) {
    signal?.throwIfAborted();
    const mine = g.layers.filter((n) => planned.has(n)).map((n) => planned.get(n)!);
    const methods = [...new Set(mine.map((l) => l.method))];
    if (methods.length > 1)
      throw new Error(
        `layers ${g.layers.join(', ')} share input '${g.tensor}' but are planned with ${methods.join(' and ')}; one activation-aware method per input group`,
      );
    const method = methods[0];
    const first = mine[0];
    const input = stats.get(model.layerInput(first.name));
    if (!input) throw new Error(`layer ${first.name} (${method}): no calibration statistics for its input '${g.tensor}'`);
    if (!input.stats.tokens) throw new Error(`layer ${first.name} (${method}): its input '${g.tensor}' saw no calibration tokens`);
    const H = input.hessian.matrix();
    // tr(WHWᵀ) (rows·cols² in float64) only for the searches that weigh their loss by it (groupLoss.ts).
    const searched = method === 'awq' || method === 'osplus';
    const members: GroupMember[] = mine.map((l) => {
      const weight = model.getWeight(l.name);
      return {
        name: l.name,
        weight,
        quant: { bits: l.bits, groupSize: l.groupSize, symmetric: l.symmetric },
        norm: searched ? quadraticForm(weight, H) : NaN,
      };
    });
    let scale: Float32Array, shift: Float32Array | undefined, clippedAbsMax: Float64Array | undefined;
    const requested = method === 'smoothquant' || method === 'osplus' || method === 'jsq' ? settingsOf(first, method).activation_bits : 0;
    const actBits = requested > 0 ? requested : undefined; // 0 = weight-only
    if (method === 'awq') {
      const r = await awqGroupSearch(members, input.stats.absMean(), H, settingsOf(first, 'awq').n_grid, threads, signal);
      scale = r.scale;
      for (const l of mine) details.set(l.name, { awq: { alpha: r.alpha } });
    } else if (method === 'jsq') {
      // JSQ (jsq.ts): mask, activation editor and SmoothQuant on the pruned weights; the clipped maxima set the activation range.
      const r = await jsqGroup(
        mine.map((l, i) => ({ layer: l, weight: members[i].weight })),
        input,
        threads,
        signal,
      );
      scale = r.scale;
      clippedAbsMax = r.clippedAbsMax;
      mine.forEach((l, i) => {
        const d: PreparedDetails = { jsq: r.details, smoothing: { alpha: r.details.alpha, scale_range: rangeOf(scale) } };
        details.set(l.name, d);
        jsqMasks.set(d, {
          keep: r.keeps[i],
          ...(r.updated ? { updated: { weight: r.updated[i], scale, original: members[i].weight.data } } : {}),
        });
      });
    } else if (method === 'smoothquant') {
      const { alpha } = settingsOf(first, 'smoothquant');
      scale = smoothQuantGroupScales(
        members.map((m) => m.weight),
        Float32Array.from(input.stats.absMax),
        alpha,
      );
      for (const l of mine) details.set(l.name, { smoothing: { alpha, scale_range: rangeOf(scale) } });
    } else {
      const { shift: withShift, steps } = settingsOf(first, 'osplus');
      const r = await osplusGroupSearch(members, input.stats.max, input.stats.min, H, { shift: withShift, steps }, threads, signal);
      scale = r.scale;
      shift = r.shift;
      for (const l of mine) details.set(l.name, { smoothing: { alpha: r.threshold, scale_range: rangeOf(scale) } });
    }
    if (actBits !== undefined) for (const l of mine) details.get(l.name)!.smoothing!.activation_bits = actBits;
    transforms.push({ layers: g.layers, scale, shift });
    newStats.set(g.tensor, { stats: transformedStats(input, scale, shift, clippedAbsMax), actBits, members: mine.map((l) => l.name) });
    opts.onProgress?.(++done, groups.length);
  }
  const folded = foldInputTransforms(model, transforms, { frozen: opts.frozen });
  const viaMul = folded.groups.filter((g, i) => g.how === 'mul' && transforms[i].scale.some((v) => v !== 1));
  const warnings = viaMulWarnings(viaMul);
  let out = folded.model;
  const qdq: Record<string, ActivationQuant> = {};
  for (const [, g] of newStats) {
    if (g.actBits === undefined) continue;
    let absMax = 0;
    for (const v of g.stats.stats.absMax) absMax = Math.max(absMax, v);
    for (const name of g.members) qdq[name] = symmetricActivationQuant(absMax, g.actBits);
  }
  if (Object.keys(qdq).length) out = insertActivationQdq(out, qdq);
  // Re-key the folded groups' statistics by the final model's layer inputs (an inserted Mul or QDQ
  // renames them); every other entry (e.g. Conv keys) is kept as it was.
  const rekeyed = new Map(stats);
  for (const [tensor, g] of newStats) {
    rekeyed.delete(tensor);
    for (const t of transforms) {
      if (!t.layers.includes(g.members[0])) continue;
      for (const n of t.layers) rekeyed.set(out.layerInput(n), g.stats);
    }
  }
  return { model: out, stats: rekeyed, details, groups: folded.groups, viaMul, warnings, transforms };
}
