/**
 * Span tree → typed recipe, checked against the schema (unknown keys with did-you-mean, wrong types,
 * out-of-range values, settings a method does not take). Invalid values are reported and dropped,
 * so everything downstream sees only well-typed values, each with its exact source range.
 */
import { METHODS } from '../protocol/plan';
import type { Method, ExportFormat } from '../protocol/plan';
import { RECIPE_SCHEMA, RULE_FIELDS, METHOD_INFO, didYouMean, describeType } from './schema';
import type { FieldSchema } from './schema';
import { parseYaml } from './parse';
import type { RNode, REntry, Span, RecipeDiagnostic, ParsedYaml } from './parse';

/** A checked value with the range of its value and of its key. */
export interface Field<T> {
  value: T;
  span: Span;
  keySpan: Span;
}

/** One `layers:` rule. */
export interface Rule {
  index: number;
  /** The whole rule item. */
  span: Span;
  match?: Field<string>;
  method?: Field<Method>;
  bits?: Field<number>;
  sparsity?: Field<number | string>;
  group_size?: Field<number>;
  symmetric?: Field<boolean>;
  skip?: Field<boolean>;
  format?: Field<ExportFormat>;
  settings: Record<string, Field<unknown>>;
}

export interface Recipe {
  parsed: ParsedYaml;
  /** Checked scalar/list values by dotted path: 'model', 'calibration.samples', 'defaults.bits', … */
  values: Record<string, Field<unknown>>;
  /** Per-method settings from `methods:`. */
  methods: Partial<Record<Method, Record<string, Field<unknown>>>>;
  /** `defaults.settings`. */
  defaultSettings: Record<string, Field<unknown>>;
  rules: Rule[];
  /** `inputs:` overrides by model input name (a rule name or a constant). */
  inputs: Record<string, Field<string | number>>;
  /** The `layers:` key, when present. */
  rulesKey?: Span;
  diagnostics: RecipeDiagnostic[];
}

/** Parse and schema-check recipe text. Never throws. */
export function readRecipe(text: string): Recipe {
  const parsed = parseYaml(text);
  const recipe: Recipe = {
    parsed,
    values: {},
    methods: {},
    defaultSettings: {},
    inputs: {},
    rules: [],
    diagnostics: [...parsed.diagnostics],
  };
  const root = parsed.root;
  if (!root) {
    if (!parsed.diagnostics.length)
      recipe.diagnostics.push({
        span: { start: 0, end: 0 },
        severity: 'error',
        message: 'Empty recipe: expected `version`, `model` and `output`.',
        code: 'missing-key',
      });
    return recipe;
  }
  if (root.kind !== 'map') {
    recipe.diagnostics.push({ span: root.span, severity: 'error', message: 'A recipe is a mapping of keys (version, model, output, …).' });
    return recipe;
  }
  checkMap(recipe, root, RECIPE_SCHEMA, '', 'recipe');
  const firstLineEnd = text.indexOf('\n') < 0 ? text.length : text.indexOf('\n');
  for (const [key, f] of Object.entries(RECIPE_SCHEMA)) {
    if (f.required && !root.entries.some((e) => e.key === key)) {
      recipe.diagnostics.push({
        span: { start: 0, end: firstLineEnd },
        severity: 'error',
        message: `Missing required key \`${key}\`.`,
        code: 'missing-key',
        data: { key },
      });
    }
  }
  // Settings in defaults/rules are checked against the method in effect there.
  const defaultMethod = (recipe.values['defaults.method']?.value as Method | undefined) ?? 'rtn';
  const defEntry = findPath(root, ['defaults', 'settings']);
  if (defEntry) recipe.defaultSettings = checkSettings(recipe, defEntry, defaultMethod);
  const rulesEntry = root.entries.find((e) => e.key === 'layers');
  if (rulesEntry?.value?.kind === 'seq') {
    rulesEntry.value.items.forEach((item, index) => recipe.rules.push(readRule(recipe, item, index, defaultMethod)));
  }
  return recipe;
}

function findPath(root: RNode, path: string[]): REntry | undefined {
  let node: RNode | null = root;
  let entry: REntry | undefined;
  for (const k of path) {
    if (!node || node.kind !== 'map') return undefined;
    entry = node.entries.find((e) => e.key === k);
    node = entry?.value ?? null;
  }
  return entry;
}

function push(recipe: Recipe, d: RecipeDiagnostic): void {
  recipe.diagnostics.push(d);
}

function checkMap(recipe: Recipe, node: RNode, fields: Record<string, FieldSchema>, prefix: string, where: string): void {
  if (node.kind !== 'map') return;
  const seen = new Set<string>();
  for (const e of node.entries) {
    const f = fields[e.key];
    if (!f) {
      const guess = didYouMean(e.key, Object.keys(fields));
      push(recipe, {
        span: e.keySpan,
        severity: 'error',
        message: `Unknown key \`${e.key}\` in ${where}.${guess ? ` Did you mean \`${guess}\`?` : ''}`,
        code: 'unknown-key',
        data: guess ? { replacement: guess } : undefined,
      });
      continue;
    }
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    const path = prefix ? `${prefix}.${e.key}` : e.key;
    if (f.kind === 'rules') {
      if (e.value && e.value.kind !== 'seq')
        push(recipe, { span: e.value.span, severity: 'error', message: '`layers` must be a list of rules (`- match: …`).', code: 'type' });
      recipe.rulesKey = e.keySpan;
      continue;
    }
    if (f.kind === 'settings') continue; // checked with the method in effect
    if (f.kind === 'methodSettings') {
      checkMethods(recipe, e);
      continue;
    }
    if (f.kind === 'inputs') {
      checkInputs(recipe, e, f.values);
      continue;
    }
    if (f.kind === 'object') {
      if (!e.value) continue;
      if (e.value.kind !== 'map') {
        push(recipe, { span: e.value.span, severity: 'error', message: `\`${path}\` must be a mapping.`, code: 'type' });
        continue;
      }
      checkMap(recipe, e.value, f.fields, path, `\`${path}\``);
      const mapNode = e.value;
      for (const [k, sub] of Object.entries(f.fields)) {
        if (sub.required && !mapNode.entries.some((x) => x.key === k))
          push(recipe, {
            span: e.keySpan,
            severity: 'error',
            message: `\`${path}\` needs \`${k}\`.`,
            code: 'missing-key',
            data: { key: k },
          });
      }
      continue;
    }
    const v = checkValue(recipe, e, f, path);
    if (v !== undefined) recipe.values[path] = { value: v, span: e.value!.span, keySpan: e.keySpan };
  }
}

/** Check one leaf value; returns the typed value or undefined (with a diagnostic). */
export function checkValue(recipe: Recipe, e: REntry, f: FieldSchema, path: string): unknown {
  const v = e.value;
  const name = `\`${path}\``;
  if (!v || (v.kind === 'scalar' && v.value === null)) {
    push(recipe, {
      span: v?.span && v.span.end > v.span.start ? v.span : e.keySpan,
      severity: 'error',
      message: `${name} needs a value (${describeType(f)}).`,
      code: 'missing-value',
    });
    return undefined;
  }
  const bad = (extra = ''): undefined => {
    push(recipe, { span: v.span, severity: 'error', message: `${name} must be ${describeType(f)}${extra}.`, code: 'type' });
    return undefined;
  };
  switch (f.kind) {
    case 'string':
      if (v.kind !== 'scalar') return bad();
      return String(v.value);
    case 'boolean':
      if (v.kind !== 'scalar' || typeof v.value !== 'boolean') return bad();
      return v.value;
    case 'number': {
      if (v.kind !== 'scalar' || typeof v.value !== 'number') return bad();
      const n = v.value;
      if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER)
        return bad(` (got ${v.source.slice(0, 40)}, which is out of range)`);
      if (f.integer && !Number.isInteger(n)) return bad(` (got ${n})`);
      if (f.allowed && !f.allowed.includes(n)) return bad(` (got ${n})`);
      if ((f.min !== undefined && n < f.min) || (f.max !== undefined && n > f.max)) return bad(` (got ${n})`);
      return n;
    }
    case 'enum': {
      if (v.kind !== 'scalar' || v.value === null) return bad();
      const s = String(v.value);
      if (f.values.includes(s)) return s;
      const guess = didYouMean(s, f.values);
      push(recipe, {
        span: v.span,
        severity: 'error',
        message: `${name} must be one of ${f.values.join(', ')} (got \`${s}\`).${guess ? ` Did you mean \`${guess}\`?` : ''}`,
        code: 'bad-enum',
        data: guess ? { replacement: guess } : undefined,
      });
      return undefined;
    }
    case 'enumList': {
      const items = v.kind === 'seq' ? v.items : [v];
      const out: string[] = [];
      for (const it of items) {
        const s = it.kind === 'scalar' ? String(it.value) : '';
        if (f.values.includes(s)) {
          out.push(s);
          continue;
        }
        const guess = didYouMean(s, f.values);
        push(recipe, {
          span: it.span,
          severity: 'error',
          message: `Unknown value \`${s}\` in ${name}; expected ${f.values.join(', ')}.${guess ? ` Did you mean \`${guess}\`?` : ''}`,
          code: 'bad-enum',
          data: guess ? { replacement: guess } : undefined,
        });
      }
      return out;
    }
    case 'numberList': {
      if (v.kind !== 'seq' || !v.items.every((it) => it.kind === 'scalar' && typeof it.value === 'number' && Number.isFinite(it.value)))
        return bad();
      return v.items.map((it) => (it as { value: number }).value);
    }
    case 'sparsity': {
      if (v.kind !== 'scalar') return bad();
      if (typeof v.value === 'number') {
        if (!Number.isFinite(v.value) || v.value < f.min || v.value >= f.max) return bad(` (got ${v.value})`);
        return v.value;
      }
      const s = String(v.value).trim();
      if (f.patterns.includes(s)) return s;
      return bad(` (got \`${s.slice(0, 40)}\`)`);
    }
    default:
      return bad();
  }
}

/** `inputs:` — each value a rule name or a finite number (names are checked against the model later). */
function checkInputs(recipe: Recipe, e: REntry, rules: readonly string[]): void {
  if (!e.value) return;
  if (e.value.kind !== 'map') {
    push(recipe, {
      span: e.value.span,
      severity: 'error',
      message: '`inputs` must map model input names to a rule or a number.',
      code: 'type',
    });
    return;
  }
  for (const m of e.value.entries) {
    const v = m.value;
    if (v?.kind === 'scalar' && typeof v.value === 'number' && Number.isFinite(v.value)) {
      recipe.inputs[m.key] = { value: v.value, span: v.span, keySpan: m.keySpan };
      continue;
    }
    if (v?.kind === 'scalar' && typeof v.value === 'string' && rules.includes(v.value)) {
      recipe.inputs[m.key] = { value: v.value, span: v.span, keySpan: m.keySpan };
      continue;
    }
    const s = v?.kind === 'scalar' ? String(v.value ?? '') : '';
    const guess = s ? didYouMean(s, rules) : undefined;
    push(recipe, {
      span: v && v.span.end > v.span.start ? v.span : m.keySpan,
      severity: 'error',
      message: `\`inputs.${m.key}\` must be a number or one of ${rules.join(', ')}${s ? ` (got \`${s}\`)` : ''}.${guess ? ` Did you mean \`${guess}\`?` : ''}`,
      code: 'bad-enum',
      data: guess ? { replacement: guess } : undefined,
    });
  }
}

function checkMethods(recipe: Recipe, e: REntry): void {
  if (!e.value) return;
  if (e.value.kind !== 'map') {
    push(recipe, { span: e.value.span, severity: 'error', message: '`methods` must map method names to settings.', code: 'type' });
    return;
  }
  for (const m of e.value.entries) {
    if (!(METHODS as readonly string[]).includes(m.key)) {
      const guess = didYouMean(m.key, METHODS);
      push(recipe, {
        span: m.keySpan,
        severity: 'error',
        message: `Unknown method \`${m.key}\` in \`methods\`; expected one of ${METHODS.join(', ')}.${guess ? ` Did you mean \`${guess}\`?` : ''}`,
        code: 'unknown-key',
        data: guess ? { replacement: guess } : undefined,
      });
      continue;
    }
    recipe.methods[m.key as Method] = checkSettings(recipe, m, m.key as Method);
  }
}

/** Check a settings map against `method`'s settings. */
export function checkSettings(recipe: Recipe, e: REntry, method: Method): Record<string, Field<unknown>> {
  const out: Record<string, Field<unknown>> = {};
  if (!e.value || (e.value.kind === 'scalar' && e.value.value === null)) return out;
  if (e.value.kind !== 'map') {
    push(recipe, { span: e.value.span, severity: 'error', message: `Settings for ${method} must be a mapping.`, code: 'type' });
    return out;
  }
  const settings = METHOD_INFO[method].settings;
  for (const s of e.value.entries) {
    const f = settings[s.key];
    if (!f) {
      const owners = METHODS.filter((m) => s.key in METHOD_INFO[m].settings);
      const guess = didYouMean(s.key, Object.keys(settings));
      const takes = Object.keys(settings).length ? `it takes ${Object.keys(settings).join(', ')}` : 'it takes no settings';
      push(recipe, {
        span: s.keySpan,
        severity: 'error',
        message: `${method} does not take \`${s.key}\` (${takes}).${owners.length ? ` \`${s.key}\` is a setting of ${owners.join(', ')}.` : ''}${guess ? ` Did you mean \`${guess}\`?` : ''}`,
        code: guess ? 'unknown-key' : 'unknown-setting',
        data: guess ? { replacement: guess } : undefined,
      });
      continue;
    }
    const v = checkValue(recipe, s, f, `${method}.${s.key}`);
    if (v !== undefined) out[s.key] = { value: v, span: s.value!.span, keySpan: s.keySpan };
  }
  return out;
}

/** The Rule fields read from a rule's checked values. */
const RULE_VALUE_KEYS = new Set(['match', 'method', 'bits', 'sparsity', 'group_size', 'symmetric', 'skip', 'format']);

function readRule(recipe: Recipe, item: RNode, index: number, defaultMethod: Method): Rule {
  const rule: Rule = { index, span: item.span, settings: {} };
  if (item.kind !== 'map') {
    push(recipe, { span: item.span, severity: 'error', message: `Rule ${index + 1} must be a mapping with a \`match\`.`, code: 'type' });
    return rule;
  }
  // A dictionary-mode object: each rule's keys (`layers[N].bits`) are new names, which on a plain
  // object would each make a hidden class (54k rules: seconds of GC, issue 17).
  const sub: Recipe = { ...recipe, values: Object.create(null) as Recipe['values'] };
  const prefix = `layers[${index}]`;
  checkMap(sub, item, RULE_FIELDS, prefix, `rule ${index + 1}`);
  // One pass over the (few) checked values, not a keyed lookup per rule field (54k rules: issue 17).
  const fields = rule as unknown as Record<string, Field<unknown> | undefined>;
  for (const k of RULE_VALUE_KEYS) fields[k] = undefined;
  for (const path in sub.values) {
    const k = path.slice(prefix.length + 1);
    if (RULE_VALUE_KEYS.has(k)) fields[k] = sub.values[path];
  }
  if (!item.entries.some((e) => e.key === 'match')) {
    const s = item.entries[0]?.keySpan ?? item.span;
    push(recipe, {
      span: s,
      severity: 'error',
      message: `Rule ${index + 1} has no \`match\` pattern.`,
      code: 'missing-key',
      data: { key: 'match' },
    });
  }
  const settings = item.entries.find((e) => e.key === 'settings');
  if (settings) rule.settings = checkSettings(recipe, settings, rule.method?.value ?? defaultMethod);
  return rule;
}
