/**
 * Readable layer names. Exporters often store weights under names that say nothing
 * (`onnx::MatMul_1103`, `val_123`, `/layers.0/Constant_output_0`) or repeat the module path with an
 * op suffix (`model.layers.0.attn.qkv_proj.MatMul.weight`); the consuming node's scope
 * (`/model/layers.0/self_attn/q_proj/MatMul`) names the module. Such layers are named by that scope
 * with dots (`layers.0.self_attn.q_proj`; a leading `model` scope, the base-model wrapper of
 * Hugging Face and model-builder exports, is dropped so that names read like `layers.0.*` on every
 * export). Names come from the graph alone, so they are stable between runs; a name that would
 * clash with another layer's name keeps its weight's name.
 */

/** Weight names that say nothing about the module (exporter-generated ids). */
const OPAQUE = [
  /^onnx::/,
  /^(?:val|_val|_v|v|t|tensor|const|constant|initializer|param|arg|p)_?\d+$/i,
  /^\d+$/,
  /(?:^|\/)Constant(?:_\d+)?_output_\d+$/,
];

/** True when a weight's own name does not name its module. */
export function isOpaqueWeightName(name: string): boolean {
  return OPAQUE.some((re) => re.test(name));
}

/** The dotted module path of a scoped node name (`/model/layers.0/mlp/down_proj/MatMul` → `model.layers.0.mlp.down_proj`), or undefined. */
export function nodeScope(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const parts = nodeName.split('/').filter(Boolean);
  if (parts.length < 2) return undefined;
  return parts.slice(0, -1).join('.');
}

/** `model.layers.0.x` → `layers.0.x` (the base-model wrapper scope); other paths unchanged. */
function dropWrapper(scope: string): string {
  return scope.startsWith('model.') ? scope.slice('model.'.length) : scope;
}

/**
 * The readable name for a weight `source` consumed by node `nodeName`, or undefined to keep the
 * weight's name: the weight's name is opaque, or is the node's scope plus a parameter suffix
 * (`.weight`, `.MatMul.weight`, `.weight_Q4`, …).
 */
export function scopeName(source: string, nodeName: string): string | undefined {
  const scope = nodeScope(nodeName);
  if (!scope) return undefined;
  if (isOpaqueWeightName(source)) return dropWrapper(scope);
  if (source.startsWith(`${scope}.`) && /^(?:[A-Z][A-Za-z]*\.)?(?:weight|bias)(?:_\w+)?$/.test(source.slice(scope.length + 1)))
    return dropWrapper(scope);
  return undefined;
}

/**
 * Renames records in place to their readable names where that is unique among all layer names
 * (colliding candidates keep their weight names). Only `eligible` records are renamed (a weight
 * shared by several nodes keeps its own name).
 */
export function applyReadableNames<T extends { name: string; node: string }>(records: T[], eligible: (r: T) => boolean): void {
  const proposed = records.map((r) => (eligible(r) ? scopeName(r.name, r.node) : undefined));
  const count = new Map<string, number>();
  for (let i = 0; i < records.length; i++) {
    const n = proposed[i] ?? records[i].name;
    count.set(n, (count.get(n) ?? 0) + 1);
  }
  for (let i = 0; i < records.length; i++) {
    const p = proposed[i];
    if (p && count.get(p) === 1) records[i].name = p;
  }
}
