/**
 * Recipe + model layers → JobPlan. Rules apply in order, later overriding earlier field by field.
 * Also the checks that need the model: patterns matching nothing, rules wholly overridden by later
 * ones, bits a format cannot store, group sizes that do not suit a layer, output == model.
 */
import * as path from 'node:path';
import type { LayerInfo } from '../protocol/model';
import type { JobPlan, LayerPlan, Method, ExportFormat, CalibrationPlan, EvaluationPlan, Metric, ImageInputPlan } from '../protocol/plan';
import { METHOD_INFO, FORMAT_BITS, DEFAULT_LAYER_CONFIG, methodDefaults, RECIPE_SCHEMA } from './schema';
import { compilePattern } from './match';
import { budgetDiagnostics } from './budget';
import type { Recipe, Field, Rule } from './recipe';
import type { RecipeDiagnostic, Span } from './parse';

const RULE_KEYS = ['method', 'bits', 'group_size', 'symmetric', 'skip'] as const;
type RuleKey = (typeof RULE_KEYS)[number];

/** One layer's effective configuration with where each value came from. */
export interface EffectiveLayer {
  layer: LayerInfo;
  method: Method; bits: number; groupSize: number; symmetric: boolean; skip: boolean;
  settings: Record<string, unknown>;
  /** Rules that matched, in order. */
  rules: number[];
  /** The field (rule or defaults) that last set each value; undefined = schema default. */
  from: Partial<Record<RuleKey, Field<unknown>>>;
}

/** Which quantizable layers each rule matches (by rule index). */
export function ruleMatches(recipe: Recipe, layers: readonly LayerInfo[]): string[][] {
  const names = layers.filter((l) => l.quantizable).map((l) => l.name);
  return recipe.rules.map((r) => {
    if (!r.match) return [];
    const c = compilePattern(r.match.value);
    return c.ok ? names.filter((n) => c.regex.test(n)) : [];
  });
}

/** Effective settings for every quantizable layer, in model order. */
export function effectiveLayers(recipe: Recipe, layers: readonly LayerInfo[]): EffectiveLayer[] {
  const v = recipe.values;
  const def = (k: string) => v[`defaults.${k}`];
  const compiled = recipe.rules.map((r) => (r.match ? compilePattern(r.match.value) : undefined));
  return layers.filter((l) => l.quantizable).map((layer) => {
    const e: EffectiveLayer = {
      layer, method: (def('method')?.value as Method) ?? DEFAULT_LAYER_CONFIG.method,
      bits: (def('bits')?.value as number) ?? DEFAULT_LAYER_CONFIG.bits,
      groupSize: (def('group_size')?.value as number) ?? DEFAULT_LAYER_CONFIG.groupSize,
      symmetric: (def('symmetric')?.value as boolean) ?? DEFAULT_LAYER_CONFIG.symmetric,
      skip: false, settings: {}, rules: [],
      from: { method: def('method'), bits: def('bits'), group_size: def('group_size'), symmetric: def('symmetric') },
    };
    let ruleSettings: Record<string, unknown> = Object.fromEntries(Object.entries(recipe.defaultSettings).map(([k, f]) => [k, f.value]));
    recipe.rules.forEach((r, i) => {
      const c = compiled[i];
      if (!c?.ok || !c.regex.test(layer.name)) return;
      e.rules.push(i);
      if (r.method) { e.method = r.method.value; e.from.method = r.method; }
      if (r.bits) { e.bits = r.bits.value; e.from.bits = r.bits; }
      if (r.group_size) { e.groupSize = r.group_size.value; e.from.group_size = r.group_size; }
      if (r.symmetric) { e.symmetric = r.symmetric.value; e.from.symmetric = r.symmetric; }
      if (r.skip) { e.skip = r.skip.value; e.from.skip = r.skip; }
      for (const [k, f] of Object.entries(r.settings)) ruleSettings = { ...ruleSettings, [k]: f.value };
    });
    const info = METHOD_INFO[e.method];
    if (info.fixedBits !== undefined) e.bits = info.fixedBits;
    const fromMethods = Object.fromEntries(Object.entries(recipe.methods[e.method] ?? {}).map(([k, f]) => [k, f.value]));
    const own = Object.fromEntries(Object.entries(ruleSettings).filter(([k]) => k in info.settings));
    e.settings = { ...methodDefaults(e.method), ...fromMethods, ...own };
    return e;
  });
}

/** Indices of rules wholly overridden: every field they set is set again (or made moot by a skip) for every layer they match. */
export function deadRules(recipe: Recipe, matches: string[][]): number[] {
  const dead: number[] = [];
  recipe.rules.forEach((r, i) => {
    const mine = matches[i];
    if (!mine.length) return;
    const keys = [...RULE_KEYS.filter((k) => r[k]), ...Object.keys(r.settings).map((k) => `settings.${k}`)];
    if (!keys.length) return;
    const later = recipe.rules.slice(i + 1).map((lr, j) => ({ lr, set: new Set(matches[i + 1 + j]) }));
    const covered = mine.every((name) => keys.every((k) => later.some(({ lr, set }) => {
      if (!set.has(name)) return false;
      if (lr.skip?.value === true && k !== 'skip') return true;
      return k.startsWith('settings.') ? k.slice(9) in lr.settings : Boolean(lr[k as RuleKey]);
    })));
    if (covered) dead.push(i);
  });
  return dead;
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Model-dependent diagnostics (patterns, dead rules, bits/format, group sizes). */
export function modelDiagnostics(recipe: Recipe, layers: readonly LayerInfo[]): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  const matches = ruleMatches(recipe, layers);
  recipe.rules.forEach((r, i) => {
    if (!r.match) return;
    const c = compilePattern(r.match.value);
    if (!c.ok) { out.push({ span: r.match.span, severity: 'error', message: `Invalid pattern \`${r.match.value.slice(0, 80)}\`: ${c.error}.`, code: 'bad-pattern' }); return; }
    if (!matches[i].length) out.push({ span: r.match.span, severity: 'warning', message: `Pattern \`${r.match.value.slice(0, 80)}\` matches no quantizable layer of the model.`, code: 'no-match', data: { rule: i } });
  });
  for (const i of deadRules(recipe, matches)) {
    out.push({ span: recipe.rules[i].span, severity: 'warning', message: `Rule ${i + 1} (\`${recipe.rules[i].match?.value}\`) has no effect: later rules override everything it sets.`, code: 'dead-rule', data: { rule: i } });
  }
  const format = (recipe.values.format?.value as ExportFormat) ?? 'matmulnbits';
  const formatField = recipe.values.format;
  const grouped = new Map<string, { span: Span; severity: RecipeDiagnostic['severity']; message: (names: string[]) => string; code: string; data: Record<string, unknown>; names: string[] }>();
  const add = (key: string, span: Span, severity: RecipeDiagnostic['severity'], code: string, data: Record<string, unknown>, message: (names: string[]) => string, name: string) => {
    const g = grouped.get(key) ?? { span, severity, message, code, data, names: [] };
    g.names.push(name); grouped.set(key, g);
  };
  const fallback: Span = formatField?.span ?? { start: 0, end: 0 };
  const list = (names: string[]) => names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', ');
  for (const e of effectiveLayers(recipe, layers)) {
    if (e.skip) continue;
    const name = e.layer.name; const info = METHOD_INFO[e.method];
    let stored = format;
    if (!info.formats.includes(format)) {
      const sp = e.from.method?.span ?? fallback;
      // A compact format was asked for: binarized layers get the compact form they have (packed).
      if (format !== 'fake' && info.formats.includes('packed')) {
        add(`fmtpk:${sp.start}`, sp, 'information', 'format-fallback', { format: 'packed', method: e.method },
          (n) => `${e.method} weights fit no ${format} grid; they are stored packed (bit planes + scales) — ${list(n)}.`, name);
        stored = 'packed';
      } else {
        add(`fmt:${sp.start}`, sp, 'error', 'unsupported-format', { format: info.formats[0], method: e.method },
          (n) => `${e.method} cannot be stored as ${format} (use format: ${info.formats.join(' or ')}) — ${list(n)}.`, name);
        continue;
      }
    }
    if (!FORMAT_BITS[stored].includes(e.bits)) {
      const sp = e.from.bits?.span ?? fallback;
      const allowed = FORMAT_BITS[stored];
      const nearest = [...allowed].sort((a, b) => Math.abs(a - e.bits) - Math.abs(b - e.bits) || b - a)[0];
      add(`bits:${sp.start}`, sp, 'error', 'unsupported-bits', { bits: nearest, format: 'fake' },
        (n) => `${stored} cannot store ${e.bits}-bit weights (it stores ${allowed.join('/')}) — ${list(n)}.`, name);
    }
    const g = e.groupSize; const inDim = e.layer.shape[1];
    const sp = e.from.group_size?.span ?? fallback;
    if (g !== -1 && g < 1) add(`g0:${sp.start}`, sp, 'error', 'bad-group', {}, () => `group_size must be -1 or positive (got ${g}).`, name);
    else if (g !== -1 && (stored === 'matmulnbits') && (!isPow2(g) || g < 16)) {
      add(`gp2:${sp.start}`, sp, 'error', 'bad-group', { group_size: Math.max(16, 2 ** Math.round(Math.log2(Math.max(g, 1)))) },
        (n) => `matmulnbits needs a group size that is a power of 2 and at least 16 (got ${g}) — ${list(n)}.`, name);
    } else if (g > inDim) {
      add(`gbig:${sp.start}`, sp, 'warning', 'group-too-large', {}, (n) => `group_size ${g} is larger than the input width of ${list(n)} (${inDim}); each row is one group.`, name);
    } else if (g > 0 && inDim % g !== 0) {
      add(`gpad:${sp.start}:${g}`, sp, 'information', 'group-padded', {}, (n) => `group_size ${g} does not divide the input width of ${list(n)}; the last group is zero-padded.`, name);
    }
  }
  for (const g of grouped.values()) out.push({ span: g.span, severity: g.severity, message: g.message(g.names), code: g.code, data: { ...g.data, layers: g.names.length } });
  return out;
}

/** Diagnostics that need neither the model nor the file system (output == model, calibration needs). */
export function recipeDiagnostics(recipe: Recipe, recipePath: string): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  const v = recipe.values; const dir = path.dirname(recipePath);
  if (v.model && v.output && path.resolve(dir, String(v.model.value)) === path.resolve(dir, String(v.output.value))) {
    out.push({ span: v.output.span, severity: 'error', message: '`output` is the input model; the compressed model must be written elsewhere.', code: 'output-is-model' });
  }
  if (v['calibration.text'] && !v['calibration.tokenizer']) out.push({ span: v['calibration.text'].keySpan, severity: 'error', message: '`calibration.text` needs `calibration.tokenizer`.', code: 'missing-key', data: { key: 'tokenizer' } });
  if (v['evaluate.text'] && !v['evaluate.tokenizer'] && !v['calibration.tokenizer']) out.push({ span: v['evaluate.text'].keySpan, severity: 'error', message: '`evaluate.text` needs a tokenizer (`evaluate.tokenizer` or `calibration.tokenizer`).', code: 'missing-key', data: { key: 'tokenizer' } });
  const sources = ['text', 'tensors', 'images'].filter((k) => v[`calibration.${k}`]);
  if (!sources.length) {
    const methodFields = [v['defaults.method'], ...recipe.rules.map((r) => r.method)].filter((f): f is Field<unknown> => Boolean(f));
    for (const f of methodFields) {
      const m = f.value as Method;
      if (METHOD_INFO[m]?.needsCalibration) out.push({ span: f.span, severity: 'warning', message: `${m} is calibrated on activations, but the recipe gives no \`calibration\` data: random token ids will be used.`, code: 'no-calibration' });
    }
  }
  if (sources.length > 1) out.push({ span: v[`calibration.${sources[1]}`].keySpan, severity: 'error', message: `Give one calibration source, not ${sources.join(' and ')}.`, code: 'conflict' });
  out.push(...budgetDiagnostics(recipe));
  return out;
}

/** Resolve every path-valued key against the recipe's folder. */
export function resolvedPaths(recipe: Recipe, recipePath: string): { key: string; field: Field<unknown>; path: string }[] {
  const dir = path.dirname(recipePath);
  const out: { key: string; field: Field<unknown>; path: string }[] = [];
  const walk = (fields: typeof RECIPE_SCHEMA, prefix: string) => {
    for (const [k, f] of Object.entries(fields)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (f.kind === 'object') walk(f.fields, key);
      else if (f.kind === 'string' && f.path && recipe.values[key]) out.push({ key, field: recipe.values[key], path: path.resolve(dir, String(recipe.values[key].value)) });
    }
  };
  walk(RECIPE_SCHEMA, '');
  return out;
}

/** `<output>.onnx` → `<output>.report.json`. */
export function reportPathFor(outputPath: string): string {
  return outputPath.endsWith('.onnx') ? `${outputPath.slice(0, -5)}.report.json` : `${outputPath}.report.json`;
}

function image(recipe: Recipe, prefix: string): ImageInputPlan {
  const g = <T>(k: string, d: T): T => (recipe.values[`${prefix}.image.${k}`]?.value as T) ?? (recipe.values[`calibration.image.${k}`]?.value as T) ?? d;
  return { height: g('height', 48), width: g('width', -1), mean: g('mean', [0.5, 0.5, 0.5]), std: g('std', [0.5, 0.5, 0.5]), layout: g('layout', 'nchw'), channels: g('channels', 'rgb') };
}

/**
 * Resolve a checked recipe against the model's layers. The plan is returned only when no error
 * was found (warnings allowed); diagnostics include the model-dependent ones.
 */
export function resolvePlan(recipe: Recipe, layers: readonly LayerInfo[], recipePath = path.resolve('recipe.lowbit.yaml')): { plan?: JobPlan; diagnostics: RecipeDiagnostic[] } {
  const diagnostics = [...recipe.diagnostics, ...recipeDiagnostics(recipe, recipePath), ...modelDiagnostics(recipe, layers)];
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const v = recipe.values; const dir = path.dirname(recipePath);
  const p = (k: string) => (v[k] ? path.resolve(dir, String(v[k].value)) : undefined);
  const num = (k: string, d: number) => (v[k]?.value as number | undefined) ?? d;
  const mode = (v['calibration.mode']?.value as 'parallel' | 'sequential') ?? 'parallel';
  const samples = num('calibration.samples', 32);
  const calibration: CalibrationPlan = p('calibration.text')
    ? { kind: 'text', textPath: p('calibration.text')!, tokenizerPath: p('calibration.tokenizer')!, samples, sequenceLength: num('calibration.sequence_length', 256), mode, offset: v['calibration.offset'] ? num('calibration.offset', 0) : undefined }
    : p('calibration.tensors') ? { kind: 'tensors', path: p('calibration.tensors')!, samples, mode }
      : p('calibration.images') ? { kind: 'images', path: p('calibration.images')!, samples, mode, image: image(recipe, 'calibration') }
        : { kind: 'random', samples, seed: num('seed', 0), mode };
  const metrics = (v['evaluate.metrics']?.value as Metric[]) ?? ['perplexity', 'kl_divergence', 'top1_agreement', 'size'];
  const es = num('evaluate.samples', 16);
  const tok = p('evaluate.tokenizer') ?? p('calibration.tokenizer');
  let evaluation: EvaluationPlan;
  if (p('evaluate.text') && tok) evaluation = { kind: 'text', textPath: p('evaluate.text')!, tokenizerPath: tok, samples: es, sequenceLength: num('evaluate.sequence_length', 256), offset: num('evaluate.offset', 0), metrics };
  else if (p('evaluate.tensors')) evaluation = { kind: 'tensors', path: p('evaluate.tensors')!, samples: es, metrics };
  else if (p('evaluate.images')) evaluation = { kind: 'images', path: p('evaluate.images')!, samples: es, image: image(recipe, 'evaluate'), labelsPath: p('evaluate.labels'), metrics };
  else evaluation = { kind: 'none', metrics: metrics.filter((m) => m === 'size') };
  const eff = effectiveLayers(recipe, layers);
  const planLayers: LayerPlan[] = eff.filter((e) => !e.skip).map((e) => ({ name: e.layer.name, method: e.method, bits: e.bits, groupSize: e.groupSize, symmetric: e.symmetric, settings: e.settings, rules: e.rules }));
  const skipped = eff.filter((e) => e.skip).map((e) => ({ name: e.layer.name, rule: recipe.rules.indexOf(recipe.rules.filter((r: Rule) => r.skip === e.from.skip)[0]) }));
  const outputPath = p('output')!;
  const plan: JobPlan = {
    recipePath, modelPath: p('model')!, outputPath, reportPath: reportPathFor(outputPath),
    format: (v.format?.value as ExportFormat) ?? 'matmulnbits', calibration, evaluation, layers: planLayers, skipped,
    threads: num('threads', 0), seed: num('seed', 0),
  };
  return { plan, diagnostics };
}
