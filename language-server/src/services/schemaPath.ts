/**
 * The schema for a cursor path, including the method-dependent `settings:` maps.
 */
import type { Method } from '../../../protocol/plan';
import { RECIPE_SCHEMA, RULE_FIELDS, METHOD_INFO, schemaAt } from '../../../recipe/schema';
import type { FieldSchema } from '../../../recipe/schema';
import type { Recipe } from '../../../recipe/checkRecipe';

/** The method in effect for a path (a rule's own method, else defaults.method). */
export function methodForPath(recipe: Recipe, path: readonly string[]): Method {
  if (path[0] === 'layers' && path[1] !== undefined) {
    const r = recipe.rules[Number(path[1])];
    if (r?.method) return r.method.value;
  }
  if (path[0] === 'methods' && path[1] && path[1] in METHOD_INFO) return path[1] as Method;
  return (recipe.values['defaults.method']?.value as Method | undefined) ?? 'rtn';
}

/** Fields of the map at `path` (key completion), or undefined when the keys are free. */
export function fieldsAt(recipe: Recipe, path: readonly string[]): Record<string, FieldSchema> | undefined {
  if (!path.length) return RECIPE_SCHEMA;
  if (path[0] === 'layers' && path.length === 2) return RULE_FIELDS;
  if (path[path.length - 1] === 'settings' || (path[0] === 'methods' && path.length === 2))
    return METHOD_INFO[methodForPath(recipe, path)].settings;
  if (path[0] === 'methods' && path.length === 1)
    return Object.fromEntries(
      Object.entries(METHOD_INFO).map(([m, i]) => [m, { kind: 'object', doc: i.doc, fields: i.settings } as FieldSchema]),
    );
  const f = fieldSchema(recipe, path);
  return f?.kind === 'object' ? f.fields : undefined;
}

/** The value of one `inputs:` entry, as an enum of the binding rules (a number is also allowed). */
export function inputValueSchema(): FieldSchema {
  const f = RECIPE_SCHEMA.inputs as Extract<FieldSchema, { kind: 'inputs' }>;
  return {
    kind: 'enum',
    doc: 'How this model input is fed: a binding rule, or a number (a constant).',
    values: f.values,
    valueDocs: f.valueDocs,
  };
}

/** The schema of the value at `path`. */
export function fieldSchema(recipe: Recipe, path: readonly string[]): FieldSchema | undefined {
  if (path[0] === 'inputs' && path.length === 2) return inputValueSchema();
  if (path.length >= 2 && path[path.length - 2] === 'settings')
    return METHOD_INFO[methodForPath(recipe, path)].settings[path[path.length - 1]];
  return schemaAt(path);
}
