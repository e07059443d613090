/** Assembles the versioned report document (protocol/report.ts) from a job's pieces. */
import { DEFAULT_ACCURACY_LEVEL, type JobPlan } from '../../protocol/plan';
import { REPORT_VERSION, type LayerReport, type QualityMetrics, type Report } from '../../protocol/report';
import pkg from '../../package.json';

export interface ReportInputs {
  plan: JobPlan;
  layers: LayerReport[];
  totalParams: number;
  fpBytes: number;
  quantizedBytes: number;
  calibrationTokens?: number;
  calibrationSamples: number;
  fp: QualityMetrics;
  quantized: QualityMetrics;
  klDivergence?: Report['metrics']['kl_divergence'];
  top1Agreement?: number;
  /** FP vs compressed outputs (images/tensors evaluation). */
  outputAgreement?: Report['metrics']['output_agreement'];
  /** Prefill / per-token decode latency and greedy generation (text evaluation). */
  decodeLatency?: Report['metrics']['decode_latency'];
  generation?: Report['metrics']['generation'];
  timings: Report['timings_s'];
  warnings: string[];
  leftAlone?: NonNullable<Report['left_alone']>;
  rotation?: Report['rotation'];
}

/** The layers whose weights are distinct tensors: the head of a tied table shared with a listed Gather is left out. */
export function countedOnce(layers: LayerReport[]): LayerReport[] {
  const names = new Set(layers.map((l) => l.name));
  return layers.filter((l) => !(l.tied_with && l.op !== 'Gather' && names.has(l.tied_with)));
}

/** Bits per weight over all quantized layers, weighted by parameters (NaN-free: 0 when none). */
export function modelBitsPerWeight(layers: LayerReport[]): number {
  let bits = 0,
    params = 0;
  for (const l of countedOnce(layers)) {
    bits += l.bits_per_weight * l.params;
    params += l.params;
  }
  return params ? bits / params : 0;
}

/** Builds the report; numbers are copied as given, nothing is recomputed here. */
export function buildReport(r: ReportInputs): Report {
  const { plan } = r;
  const quantizedParams = countedOnce(r.layers).reduce((s, l) => s + l.params, 0);
  const metrics: Report['metrics'] = { fp: r.fp, quantized: r.quantized };
  if (r.klDivergence) metrics.kl_divergence = r.klDivergence;
  if (r.top1Agreement !== undefined) metrics.top1_agreement = r.top1Agreement;
  if (r.outputAgreement) metrics.output_agreement = r.outputAgreement;
  if (r.decodeLatency) metrics.decode_latency = r.decodeLatency;
  if (r.generation) metrics.generation = r.generation;
  return {
    version: REPORT_VERSION,
    created_at: new Date().toISOString(),
    tool: { name: 'lowbit', version: (pkg as { version: string }).version },
    recipe: plan.recipePath || null,
    model: plan.modelPath,
    output: plan.outputPath,
    format: plan.format,
    ...(plan.layers.some((l) => ['matmulnbits', 'qdq'].includes(l.format ?? plan.format))
      ? { accuracy_level: plan.accuracyLevel ?? DEFAULT_ACCURACY_LEVEL }
      : {}),
    calibration: {
      kind: plan.calibration.kind,
      samples: r.calibrationSamples,
      mode: plan.calibration.mode,
      ...(r.calibrationTokens !== undefined ? { tokens: r.calibrationTokens } : {}),
    },
    metrics,
    size: {
      fp_bytes: r.fpBytes,
      quantized_bytes: r.quantizedBytes,
      bits_per_weight: modelBitsPerWeight(r.layers),
      quantized_params: quantizedParams,
      total_params: r.totalParams,
      ...byFormat(r.layers, r.quantizedBytes),
    },
    layers: r.layers,
    ...(r.leftAlone ? { left_alone: r.leftAlone } : {}),
    ...(r.rotation ? { rotation: r.rotation } : {}),
    timings_s: r.timings,
    warnings: r.warnings,
  };
}

/** The output's bytes by stored format (layers that carry `format` and `stored_bytes`), the rest as `float`. */
function byFormat(layers: LayerReport[], fileBytes: number): { by_format?: NonNullable<Report['size']['by_format']> } {
  const known = layers.filter((l) => l.format !== undefined && l.stored_bytes !== undefined);
  if (!known.length) return {};
  const out: NonNullable<Report['size']['by_format']> = [];
  for (const f of ['matmulnbits', 'qdq', 'packed', 'fake'] as const) {
    const mine = known.filter((l) => l.format === f);
    if (mine.length) out.push({ format: f, layers: mine.length, bytes: mine.reduce((a, l) => a + l.stored_bytes!, 0) });
  }
  out.push({ format: 'float', layers: 0, bytes: Math.max(0, fileBytes - out.reduce((a, e) => a + e.bytes, 0)) });
  return { by_format: out };
}
