/** The job's rotation step: the recipe's `rotation:` applied to the loaded model, and its report entry. */
import type { JobPlan, JobProgress } from '../../protocol/plan';
import type { RotationReport } from '../../protocol/report';
import type { OnnxModel } from '../onnx/model';
import { rotateModel, type RotationRecord } from './rotation';

/** Rotates the model as `plan.rotation` asks (throws RotationUnsupported naming the node when it cannot). */
export function rotateForPlan(
  plan: Pick<JobPlan, 'rotation' | 'modelPath'>,
  model: OnnxModel,
  onProgress?: (p: JobProgress) => void,
): { model: OnnxModel; record: RotationRecord } | undefined {
  if (!plan.rotation) return undefined;
  onProgress?.({ stage: 'load', message: `rotating the residual stream (${plan.rotation.method}, seed ${plan.rotation.seed})` });
  const r = rotateModel(model, { seed: plan.rotation.seed, online: plan.rotation.online ?? 'none' });
  onProgress?.({
    stage: 'load',
    message: `rotated: d = ${r.record.size} (${r.record.construction}), ${r.record.readers.length} readers, ${r.record.writers.length} writers, ${r.record.norms.length} norms folded${r.record.layer_norm ? ` (${r.record.layer_norm.rewritten.length} LayerNorms rewritten as RMSNorms after centring the stream: ${r.record.layer_norm.centred.length} writers and tables centred)` : ''}${r.record.online?.length ? `, ${r.record.online.length} online rotations inserted` : ''}${r.record.untied ? `, tied head '${r.record.untied.head}' untied (+${r.record.untied.bytes} bytes)` : ''}`,
  });
  return r;
}

/** The report's `rotation` (the record without the reader/writer name lists, which `layers` holds). */
export function rotationReport(r: RotationRecord): RotationReport {
  return {
    method: r.method,
    seed: r.seed,
    size: r.size,
    construction: r.construction,
    embedding: r.embedding,
    norms: r.norms,
    layers: r.layers,
    ...(r.online ? { online: r.online } : {}),
    ...(r.untied ? { untied: r.untied } : {}),
    ...(r.tables ? { tables: r.tables } : {}),
    ...(r.layer_norm ? { layer_norm: r.layer_norm } : {}),
  };
}
