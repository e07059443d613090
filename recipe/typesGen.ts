/**
 * recipe.types.ts, the recipe document as TypeScript types, generated from the schema. Regenerate with
 * `node --import tsx recipe/typesGen.ts --write`; a test fails when the file drifts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RECIPE_SCHEMA, METHOD_INFO, type FieldSchema } from './schema';
import { METHODS } from '../protocol/plan';

const lit = (v: string) => JSON.stringify(v);
const pascal = (s: string) => s.replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
const comment = (doc: string, indent: string) => `${indent}/** ${doc.replace(/\*\//g, '*\\/').replace(/\s*\n\s*/g, ' ')} */`;

/** The TypeScript type of one field (objects become inline object types). */
function typeOf(f: FieldSchema, indent: string): string {
  switch (f.kind) {
    case 'string':
      return 'string';
    case 'number':
      return f.allowed ? f.allowed.join(' | ') : 'number';
    case 'boolean':
      return 'boolean';
    case 'enum':
      return f.values.map(lit).join(' | ');
    case 'enumList':
      return `Array<${f.values.map(lit).join(' | ')}>`;
    case 'numberList':
      return 'number[]';
    case 'sparsity':
      return ['number', ...f.patterns.map(lit)].join(' | ');
    case 'object':
      return objectType(f.fields, indent);
    case 'rules':
      return 'RecipeRule[]';
    case 'methodSettings':
      return 'MethodSettings';
    case 'settings':
      return 'AnyMethodSettings';
    case 'inputs':
      return `Record<string, ${f.values.map(lit).join(' | ')} | number>`;
  }
}

function objectType(fields: Record<string, FieldSchema>, indent: string): string {
  const inner = `${indent}  `;
  const lines = Object.entries(fields).flatMap(([k, f]) => [
    comment(f.doc, inner),
    `${inner}${k}${f.required ? '' : '?'}: ${typeOf(f, inner)};`,
  ]);
  return lines.length ? `{\n${lines.join('\n')}\n${indent}}` : '{}';
}

/** The full text of recipe.types.ts. */
export function renderRecipeTypes(): string {
  const out = ['// Generated from recipe/schema.ts by recipe/typesGen.ts. Do not edit.', '/* eslint-disable */', ''];
  for (const m of METHODS) {
    out.push(`/** Settings of method \`${m}\`. */`, `export interface ${pascal(m)}Settings ${objectType(METHOD_INFO[m].settings, '')}`, '');
  }
  out.push(
    "/** Each method's settings as its kernel receives them: every key present (the schema's defaults filled in; engine/quantize/methodSettings.ts `settingsOf`). */",
    `export interface ResolvedMethodSettings {\n${METHODS.map((m) => `  ${m}: Required<${pascal(m)}Settings>;`).join('\n')}\n}`,
    '',
  );
  out.push(
    '/** `methods:`: per-method settings. */',
    `export interface MethodSettings {\n${METHODS.map((m) => `  ${m}?: ${pascal(m)}Settings;`).join('\n')}\n}`,
    '',
  );
  out.push(
    "/** Any method's settings (a rule's `settings:` is checked against the method in effect). */",
    `export type AnyMethodSettings = ${METHODS.map((m) => `${pascal(m)}Settings`).join(' | ')};`,
    '',
  );
  const rules = RECIPE_SCHEMA.layers as Extract<FieldSchema, { kind: 'rules' }>;
  out.push('/** One `layers:` rule. */', `export interface RecipeRule ${objectType(rules.item, '')}`, '');
  out.push('/** A whole recipe document (`*.lowbit.yaml`). */', `export interface RecipeDocument ${objectType(RECIPE_SCHEMA, '')}`, '');
  return out.join('\n');
}

/** Where the generated file lives. */
export const RECIPE_TYPES_PATH = path.resolve(__dirname, 'recipe.types.ts');

if (require.main === module && process.argv.includes('--write')) {
  fs.writeFileSync(RECIPE_TYPES_PATH, renderRecipeTypes());
  process.stdout.write(`wrote ${RECIPE_TYPES_PATH}\n`);
}
