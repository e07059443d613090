/**
 * A layer's method settings as its kernel reads them: typed by the generated `ResolvedMethodSettings`
 * (recipe/recipe.types.ts, from the schema). Defaults come from the schema only (`methodDefaults`);
 * a plan from a recipe already has them, a hand-made plan (tests, the API) gets them here. A key the
 * method does not take, or a value of the wrong type, is an error naming the layer — never ignored.
 */
import type { LayerPlan, Method } from '../../protocol/plan';
import type { ResolvedMethodSettings } from '../../recipe/recipe.types';
import { METHOD_INFO, describeType, methodDefaults, type FieldSchema } from '../../recipe/schema';

/** The settings of `layer` for `method` (which must be the layer's method), every key present. */
export function settingsOf<M extends Method>(layer: Pick<LayerPlan, 'name' | 'method' | 'settings'>, method: M): ResolvedMethodSettings[M] {
  if (layer.method !== method)
    throw new Error(`layer ${layer.name}: settings of method ${method} requested, but the layer is planned with ${layer.method}`);
  const schema = METHOD_INFO[method].settings;
  for (const [key, value] of Object.entries(layer.settings)) {
    const field = schema[key];
    if (!field)
      throw new Error(
        `layer ${layer.name}: method ${method} has no setting '${key}' (it takes: ${Object.keys(schema).join(', ') || 'none'})`,
      );
    if (!fits(field, value))
      throw new Error(
        `layer ${layer.name}: setting '${key}' of method ${method} must be ${describeType(field)}, got ${JSON.stringify(value)}`,
      );
  }
  const resolved: Record<string, unknown> = { ...methodDefaults(method), ...layer.settings };
  for (const key of Object.keys(schema))
    if (resolved[key] === undefined)
      throw new Error(`layer ${layer.name}: setting '${key}' of method ${method} has no value and the schema gives no default`);
  return resolved as unknown as ResolvedMethodSettings[M];
}

function fits(f: FieldSchema, v: unknown): boolean {
  switch (f.kind) {
    case 'number':
      return (
        typeof v === 'number' &&
        Number.isFinite(v) &&
        (!f.integer || Number.isInteger(v)) &&
        (f.min === undefined || v >= f.min) &&
        (f.max === undefined || v <= f.max) &&
        (!f.allowed || f.allowed.includes(v))
      );
    case 'boolean':
      return typeof v === 'boolean';
    case 'enum':
      return typeof v === 'string' && f.values.includes(v);
    case 'string':
      return typeof v === 'string';
    default:
      return false; // method settings are scalars
  }
}
