/**
 * `lowbit suggest`: the best per-layer mix of candidates that fits a size budget.
 *
 * 1. Calibrate once (parallel: every layer sees the FP activations).
 * 2. Per layer (progress per layer), per candidate: quantize the layer with the real kernel, price it
 *    with the size model (the exporter's real bytes, layerSize.ts, in the format the recipe would store
 *    that layer with that candidate: recipe/storedFormat.ts, per layer under `auto`), and estimate its loss — measured
 *    KL(FP‖Q) with only that layer quantized on calibration-text windows (`kl`), or the Hessian-weighted
 *    output error tr(ΔW H ΔWᵀ) (`proxy`).
 * 3. An exact multiple-choice knapsack (knapsack.ts) minimizes the summed loss under the byte budget;
 *    its table is the size / estimated-loss frontier.
 * 4. The choice becomes ordered, commented `layers:` rules (rules.ts).
 * Deterministic for a seed (fixed kernels, fixed windows, deterministic tie-breaks); cancellable
 * between candidates.
 */
import type { BudgetPlan, SuggestCandidate, SuggestLayer, SuggestPoint, SuggestProgress, SuggestResult } from '../../protocol/budget';
import type { ExportFormat, JobPlan, LayerPlan } from '../../protocol/plan';
import { methodDefaults } from '../../recipe/schema';
import { calibrateForPlan, planLayers, statisticsView } from '../job';
import { resolveTextOffsets, textWindows } from '../data/text';
import { fakeQuantBytes } from '../exportStep';
import { loadModel } from '../onnx/model';
import { quantizeLayers } from '../quantize/quantizeLayers';
import type { InputStatistics } from '../calibrate/calibrate';
import { DEFAULT_ACCURACY_LEVEL } from '../../protocol/plan';
import { budgetCandidates, candidateLabel, type Candidate } from '../../recipe/budgetCandidates';
import { storedFormatFor } from '../../recipe/storedFormat';
import type { OnnxModel } from '../onnx/model';
import { KlProbe } from './klProbe';
import { exportedBytes, floatWeightBytes, layerCost, primer, type Primer, type StoredLayer } from './layerSize';
import { solveKnapsack, type KnapsackItem, type KnapsackResult } from './knapsack';
import { choiceRules, rulesYaml } from './rules';
import { spearman } from './rankCorrelation';

/** Up to this many parameters × candidates, every candidate's result is kept to measure the uniform configurations exactly. */
const KEEP_RESULTS_PARAMS = 64_000_000;

export interface SuggestOptions {
  signal?: AbortSignal;
  onProgress?: (p: SuggestProgress) => void;
}

/** Runs the suggestion for `plan`'s layers under `budget`. */
export async function suggest(plan: JobPlan, budget: BudgetPlan, opts: SuggestOptions = {}): Promise<SuggestResult> {
  const { signal, onProgress } = opts;
  if (!plan.layers.length) throw new Error(`${plan.recipePath}: no layer is quantized (every layer is skipped); nothing to plan`);
  const model = await loadModel(plan.modelPath);
  const hasCalibration = plan.calibration.kind !== 'random';
  const format = plan.format;
  // The accuracy_level attribute the job writes on every MatMulNBits node counts against the budget too.
  const level = plan.accuracyLevel ?? DEFAULT_ACCURACY_LEVEL;
  const candidates = budgetCandidates(plan.format, hasCalibration, budget);
  if (!candidates.length)
    throw new Error(
      `${plan.recipePath}: budget: no candidate can be stored as ${plan.format} (check budget.methods, budget.bits and budget.group_sizes)`,
    );
  const ops = new Map(planLayers(plan, model).map((l) => [l.name, l.op]));

  onProgress?.({ stage: 'calibrate', message: `calibrating (${plan.calibration.kind}, ${plan.calibration.samples} samples)` });
  let calibrationOffset: number | undefined;
  if (plan.calibration.kind === 'text') {
    calibrationOffset = (await resolveTextOffsets(plan.calibration, plan.evaluation.kind === 'text' ? plan.evaluation : undefined))
      .calibrationOffset;
  }
  const cal = await calibrateForPlan(plan, model, { signal, calibrationOffset });
  const view = statisticsView(model, planLayers(plan, model));
  let probe: KlProbe | undefined;
  let estimate = budget.estimate;
  if (estimate === 'kl' && plan.calibration.kind === 'text') {
    const c = plan.calibration;
    const windows = await textWindows({
      textPath: c.textPath,
      tokenizerPath: c.tokenizerPath,
      samples: budget.samples,
      sequenceLength: c.sequenceLength,
      offset: calibrationOffset,
    });
    probe = await KlProbe.create(model.sessionBytes(), windows, plan.threads, model.externalDataDir);
  } else estimate = 'proxy';

  const quantize = async (lp: LayerPlan, c: Candidate): Promise<StoredLayer> => {
    const cp = candidatePlan(lp, c, format, model);
    const [q] = await quantizeLayers({ plan: { layers: [cp], format, threads: plan.threads }, model: view, ops, stats: cal.stats, signal });
    return { q, format: cp.format! };
  };
  const total = plan.layers.length;
  // Size primers (layerSize.ts): each layer's cost is counted on top of another layer of the same shape
  // (so per-shape packed constants are paid once too) written with the same candidate; layer 0 or 1 when
  // no other layer has its shape.
  const shapeKey = (i: number) => model.layer(plan.layers[i].name).shape.join('x');
  const firstOfShape = new Map<string, number[]>();
  for (let i = 0; i < total; i++) {
    const g = firstOfShape.get(shapeKey(i)) ?? [];
    if (g.length < 2) g.push(i);
    firstOfShape.set(shapeKey(i), g);
  }
  const primerOf = (i: number): number | undefined => {
    const g = firstOfShape.get(shapeKey(i))!;
    if (g.length === 2) return g[0] === i ? g[1] : g[0];
    return total > 1 ? (i === 0 ? 1 : 0) : undefined;
  };
  const primerLayers = [...new Set(plan.layers.map((_, i) => primerOf(i)).filter((i): i is number => i !== undefined))].sort(
    (a, b) => a - b,
  );
  const primers = new Map<number, Primer[]>();
  for (const i of primerLayers) {
    const row: Primer[] = [];
    for (const c of candidates) {
      signal?.throwIfAborted();
      row.push(primer(model, await quantize(plan.layers[i], c), format, level));
    }
    primers.set(i, row);
  }
  const empty: Primer = { q: undefined, bytes: exportedBytes(model, [], format, level) };
  const layers: SuggestLayer[] = [];
  // Small models keep every candidate's result, so each uniform configuration is measured as one export
  // (shape-shared packed constants make primed costs over-count a little); large ones use the model.
  const keep = plan.layers.reduce((s, l) => s + model.layer(l.name).params, 0) * candidates.length <= KEEP_RESULTS_PARAMS;
  const kept: StoredLayer[][] = candidates.map(() => []);
  for (let index = 0; index < total; index++) {
    const lp = plan.layers[index];
    signal?.throwIfAborted();
    onProgress?.({ stage: 'measure', message: `${lp.name}: ${candidates.length} candidates`, layer: lp.name, index, total });
    const weight = view.getWeight(lp.name);
    const input = cal.stats.get(view.layerInput(lp.name));
    const energy = outputEnergy(weight.data, weight.rows, weight.cols, input);
    const entry: SuggestLayer = {
      name: lp.name,
      params: weight.rows * weight.cols,
      bytes: [],
      stored: [],
      loss: [],
      proxy: [],
      ...(probe ? { kl: [] } : {}),
      chosen: -1,
    };
    for (const [k, c] of candidates.entries()) {
      signal?.throwIfAborted();
      const q = primers.get(index)?.[k].q ?? (await quantize(lp, c));
      if (keep) kept[k].push(q);
      const p = primerOf(index);
      entry.stored.push(q.format);
      entry.bytes.push(layerCost(model, q, format, p !== undefined ? primers.get(p)![k] : empty, level));
      const proxy = q.q.report.rel_error * energy;
      entry.proxy.push(proxy);
      if (probe) {
        const kl = await probe.measure(fakeQuantBytes(model, [q.q]), `${lp.name} as ${candidateLabel(c)}`);
        entry.kl!.push(kl);
        entry.loss.push(kl);
      } else entry.loss.push(proxy);
    }
    layers.push(entry);
  }

  onProgress?.({ stage: 'solve', message: 'solving the knapsack' });
  const params = layers.reduce((s, l) => s + l.params, 0);
  const floatBytes = plan.layers.reduce((s, l) => s + floatWeightBytes(model, l.name), 0);
  // The input file without the quantized layers' float weights, and the same as the exporter serializes it.
  const fixedBytes = model.fileBytes - floatBytes;
  const encodedFixed = empty.bytes - floatBytes;
  const fileTarget = targetFileBytes(budget, params, fixedBytes, model.fileBytes);
  let capacityBytes = fileTarget - encodedFixed;
  if (capacityBytes <= 0)
    throw new Error(
      `${plan.recipePath}: budget: ${describeTarget(budget)} leaves no room for the quantized layers (the rest of the file is ${fixedBytes} bytes)`,
    );
  const items = layers.map((l) => ({ cost: l.bytes, loss: l.loss }));
  /** Bits per weight of a file of `fileBytes`, measured as the tests and users measure it. */
  const bpwOfFile = (fileBytes: number) => ((fileBytes - fixedBytes) * 8) / params;
  // Shared constants each candidate pays once (what layer 0 alone costs beyond its primed cost).
  const p0 = primerLayers[0];
  const oneTime = candidates.map((_, k) =>
    p0 !== undefined
      ? Math.max(0, primers.get(p0)![k].bytes - empty.bytes + floatWeightBytes(model, plan.layers[p0].name) - layers[p0].bytes[k])
      : 0,
  );
  const uniform: SuggestPoint[] = candidates.map((c, k) => {
    const fileBytes = keep
      ? exportedBytes(model, kept[k], format, level)
      : encodedFixed + oneTime[k] + layers.reduce((s, l) => s + l.bytes[k], 0);
    return {
      label: candidateLabel(c),
      bytes: fileBytes - encodedFixed,
      fileBytes,
      measured: keep,
      bitsPerWeight: bpwOfFile(fileBytes),
      loss: layers.reduce((s, l) => s + l.loss[k], 0),
      fits: fileBytes <= fileTarget,
    };
  });
  kept.length = 0;
  // Solve, then measure the chosen mix as one export; tighten by any excess (shared constants) and re-solve.
  let ks = solveKnapsack(items, capacityBytes);
  let fileBytes = 0;
  for (let attempt = 0; ; attempt++) {
    if (!ks.choice) {
      const smallest = Math.min(...uniform.map((u) => u.fileBytes));
      throw new Error(
        `${plan.recipePath}: budget: ${describeTarget(budget)} is below the smallest candidate mix (${bpwOfFile(smallest).toFixed(2)} bits/weight, ${smallest} bytes); add cheaper candidates (budget.bits / budget.group_sizes) or raise the budget`,
      );
    }
    signal?.throwIfAborted();
    const mix = [];
    for (const [i, k] of ks.choice.entries()) mix.push(primers.get(i)?.[k].q ?? (await quantize(plan.layers[i], candidates[k])));
    fileBytes = exportedBytes(model, mix, format, level);
    if (fileBytes <= fileTarget) break;
    if (attempt === 4)
      throw new Error(
        `${plan.recipePath}: budget: the chosen mix measures ${fileBytes} bytes, over the ${fileTarget}-byte target after ${attempt + 1} tries`,
      );
    capacityBytes -= fileBytes - fileTarget;
    ks = solveKnapsack(items, capacityBytes);
  }
  // A uniform configuration measured to fit that the estimate prefers wins (primed costs can over-count).
  const bestUniform = uniform
    .map((u, k) => ({ u, k }))
    .filter(({ u }) => u.measured && u.fits && u.loss < ks.loss)
    .sort((a, b) => a.u.loss - b.u.loss)[0];
  let chosenLoss = ks.loss;
  if (bestUniform) {
    ks.choice = layers.map(() => bestUniform.k);
    fileBytes = bestUniform.u.fileBytes;
    chosenLoss = bestUniform.u.loss;
  }
  ks.choice.forEach((k, i) => {
    layers[i].chosen = k;
  });
  const chosen: SuggestPoint = {
    label: 'suggested',
    bytes: fileBytes - encodedFixed,
    fileBytes,
    measured: true,
    bitsPerWeight: bpwOfFile(fileBytes),
    loss: chosenLoss,
    fits: true,
  };
  const bpw = (bytes: number) => bpwOfFile(bytes + encodedFixed);
  const cheapest = (l: SuggestLayer) => l.bytes.indexOf(Math.min(...l.bytes));
  const byName = new Map(layers.map((l) => [l.name, l]));
  const rulesFor = (choice: number[]) =>
    choiceRules({
      layers: layers.map((l) => l.name),
      chosen: choice.map((k) => candidates[k]),
      comment: (c, names) => {
        const k = candidates.findIndex((x) => candidateLabel(x) === candidateLabel(c));
        let bytes = 0,
          loss = 0,
          cheapBytes = 0,
          cheapLoss = 0,
          n = 0;
        for (const name of names) {
          const l = byName.get(name)!;
          bytes += l.bytes[k];
          loss += l.loss[k];
          n += l.params;
          const j = cheapest(l);
          cheapBytes += l.bytes[j];
          cheapLoss += l.loss[j];
        }
        const what = estimate === 'kl' ? 'est. KL' : 'est. error';
        const buys =
          bytes > cheapBytes
            ? `; +${bytes - cheapBytes} bytes over the cheapest candidate buy ${what} ${fmt(cheapLoss)} → ${fmt(loss)}`
            : '; the cheapest candidate';
        return `${candidateLabel(c)}: ${names.length} layer${names.length === 1 ? '' : 's'}, ${bpw0(bytes, n)} bits/weight stored, ${what} ${fmt(loss)}${buys}`;
      },
    });
  const rules = rulesFor(ks.choice);
  for (const [k, u] of uniform.entries()) u.yaml = rulesYaml(rulesFor(layers.map(() => k)));
  const frontier = sampleFrontier(ks, items, bpw, (choice) => rulesYaml(rulesFor(choice)));
  return {
    recipe: plan.recipePath,
    format: plan.format,
    target: budget.target,
    estimate,
    capacityBytes,
    fileTarget,
    params,
    fixedBytes,
    candidates: candidates.map((c): SuggestCandidate => ({ ...c, label: candidateLabel(c) })),
    layers,
    chosen,
    uniform,
    frontier,
    knapsack: { exact: ks.exact, unit: ks.unit, boundBytes: ks.boundCapacity },
    rules,
    yaml: rulesYaml(rules),
    seed: plan.seed,
    created_at: new Date().toISOString(),
    ...(probe
      ? {
          proxyKlSpearman: spearman(
            layers.flatMap((l) => l.proxy),
            layers.flatMap((l) => l.kl!),
          ),
        }
      : {}),
  };
}

const fmt = (x: number) => (x === 0 ? '0' : Math.abs(x) >= 0.01 ? x.toFixed(4) : x.toExponential(2));
const bpw0 = (bytes: number, params: number) => ((bytes * 8) / params).toFixed(2);

/** The output file size the budget allows: bits/weight over the quantized parameters on top of the rest of the file, bytes, or a ratio of the FP file. */
export function targetFileBytes(budget: Pick<BudgetPlan, 'target'>, params: number, fixedBytes: number, fpFileBytes: number): number {
  const t = budget.target;
  if (t.kind === 'bits_per_weight') return fixedBytes + Math.floor((t.value * params) / 8);
  return t.kind === 'bytes' ? t.value : Math.floor(t.value * fpFileBytes);
}

export function describeTarget(budget: Pick<BudgetPlan, 'target'>): string {
  const t = budget.target;
  return t.kind === 'bits_per_weight' ? `${t.value} bits/weight` : t.kind === 'bytes' ? `${t.value} bytes` : `ratio ${t.value}`;
}

/**
 * The layer plan for one candidate, as the recipe's plan would resolve a rule setting it: the planned
 * layer's symmetry, the method's settings (the layer's own when the method is unchanged), and the stored
 * format, bits and group size recipe/storedFormat.ts gives the layer's op (resolvePlan calls the same
 * function, and the job hands its `format` to the exporter), so the size model prices what the job writes.
 */
export function candidatePlan(lp: LayerPlan, c: Candidate, format: ExportFormat, model: OnnxModel): LayerPlan {
  const settings = c.method === lp.method ? lp.settings : methodDefaults(c.method);
  const rec = model.layer(lp.name);
  const stored = storedFormatFor(format, { op: rec.op, opset: model.opset, dims: rec.dims }, c.method, c.bits, c.groupSize);
  return { ...lp, method: c.method, bits: stored.bits, groupSize: stored.groupSize, format: stored.format, settings };
}

/** tr(W H Wᵀ) (the output energy under the calibration Hessian; ‖W‖² without statistics), so rel_error × it = tr(ΔW H ΔWᵀ). */
function outputEnergy(w: Float32Array, rows: number, cols: number, input?: InputStatistics): number {
  if (!input || input.n !== cols) {
    let s = 0;
    for (let i = 0; i < w.length; i++) s += w[i] * w[i];
    return s;
  }
  const H = input.hessian.matrix();
  let total = 0;
  const hw = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * cols, (r + 1) * cols);
    hw.fill(0);
    for (let i = 0; i < cols; i++) {
      const wi = row[i];
      if (wi === 0) continue;
      const hrow = i * cols;
      for (let j = 0; j < cols; j++) hw[j] += wi * H[hrow + j];
    }
    for (let j = 0; j < cols; j++) total += row[j] * hw[j];
  }
  return total;
}

/** ~64 points of the knapsack's frontier where the best loss changes, each with its per-layer choice. */
function sampleFrontier(
  ks: KnapsackResult,
  items: KnapsackItem[],
  bpw: (b: number) => number,
  yamlFor: (choice: number[]) => string,
): SuggestResult['frontier'] {
  const f = ks.frontier;
  const steps: number[] = [];
  let last = Infinity;
  for (let j = 0; j < f.length; j++)
    if (Number.isFinite(f[j]) && f[j] < last) {
      steps.push(j);
      last = f[j];
    }
  const stride = Math.max(1, Math.ceil(steps.length / 64));
  const picked = steps.filter((_, i) => i % stride === 0);
  if (steps.length && picked[picked.length - 1] !== steps[steps.length - 1]) picked.push(steps[steps.length - 1]);
  return picked.map((j) => {
    const choice = ks.choiceAt(j)!;
    const bytes = choice.reduce((s, k, i) => s + items[i].cost[k], 0);
    return { bytes, bitsPerWeight: bpw(bytes), loss: f[j], choice, yaml: yamlFor(choice) };
  });
}
