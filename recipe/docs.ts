/**
 * docs/recipe.md, generated from the schema. Regenerate with
 * `node --import tsx recipe/docs.ts --write`; a test fails when the file drifts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RECIPE_SCHEMA, RULE_FIELDS, METHOD_INFO, FORMAT_BITS, FORMAT_DOCS, describeType, RECIPE_VERSION } from './schema';
import type { FieldSchema } from './schema';
import { METHODS, EXPORT_FORMATS } from '../protocol/plan';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
const def = (f: FieldSchema) =>
  'default' in f && f.default !== undefined ? `\`${JSON.stringify(f.default)}\`` : f.required ? '**required**' : '';

function table(fields: Record<string, FieldSchema>, prefix = ''): string[] {
  const rows = ['| Key | Type | Default | Description |', '|---|---|---|---|'];
  const nested: string[] = [];
  for (const [k, f] of Object.entries(fields)) {
    const inert = 'inert' in f && typeof f.inert === 'string' ? ` *Does not change the result:* ${f.inert}` : '';
    rows.push(`| \`${prefix}${k}\` | ${cell(describeType(f))} | ${def(f)} | ${cell(f.doc + inert)} |`);
    if (f.kind === 'object') nested.push('', `### \`${prefix}${k}\``, '', ...table(f.fields, `${prefix}${k}.`));
  }
  return [...rows, ...nested];
}

/** The full markdown text of docs/recipe.md. */
export function renderRecipeDocs(): string {
  const out = [
    '# The recipe format (`*.lowbit.yaml`)',
    '',
    '<!-- Generated from recipe/schema.ts by recipe/docs.ts. Do not edit. -->',
    '',
    `Format version ${RECIPE_VERSION}. Paths are relative to the recipe file. Check a recipe with \`npx lowbit check <recipe>\`.`,
    '',
    '## Top-level keys',
    '',
    ...table(Object.fromEntries(Object.entries(RECIPE_SCHEMA).filter(([, f]) => f.kind !== 'object')), ''),
    ...Object.entries(RECIPE_SCHEMA)
      .filter(([, f]) => f.kind === 'object')
      .flatMap(([k, f]) => ['', `## \`${k}\``, '', f.doc, '', ...table((f as Extract<FieldSchema, { kind: 'object' }>).fields, `${k}.`)]),
    '',
    '## `layers:` rules',
    '',
    'Rules apply in order; a later rule overrides an earlier one field by field for the layers both match. A rule whose every field is overridden for every layer it matches is reported as dead. Glob `*` matches any run of characters (dots included), `?` one character, `[abc]` a class, `{a,b}` alternatives; `re:<regex>` is a full-match regular expression from the regular subset of JavaScript regexps (no lookaround, backreferences or `\\b`); every pattern runs on a linear-time automaton, so no pattern can hang a check.',
    '',
    ...table(RULE_FIELDS),
    '',
    '## Formats',
    '',
    '| Format | Storable bits | Description |',
    '|---|---|---|',
    ...EXPORT_FORMATS.map((f) => `| \`${f}\` | ${FORMAT_BITS[f].join(', ')} | ${cell(FORMAT_DOCS[f])} |`),
    '',
    "## Methods and their settings (`methods.<name>:` or a rule's `settings:`)",
  ];
  for (const m of METHODS) {
    const info = METHOD_INFO[m];
    out.push(
      '',
      `### \`${m}\``,
      '',
      info.doc,
      '',
      `Formats: ${info.formats.join(', ')}.${info.fixedBits !== undefined ? ` Always ${info.fixedBits}-bit.` : ''} Calibration: ${info.needsCalibration ? 'needed' : 'not needed'}.`,
    );
    if (Object.keys(info.settings).length) out.push('', ...table(info.settings, ''));
  }
  return `${out.join('\n')}\n`;
}

/** Where the generated file lives. */
export const RECIPE_DOCS_PATH = path.resolve(__dirname, '..', 'docs', 'recipe.md');

if (require.main === module && process.argv.includes('--write')) {
  fs.mkdirSync(path.dirname(RECIPE_DOCS_PATH), { recursive: true });
  fs.writeFileSync(RECIPE_DOCS_PATH, renderRecipeDocs());
  process.stdout.write(`wrote ${RECIPE_DOCS_PATH}\n`);
}
