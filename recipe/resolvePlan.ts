/**
 * Recipe + model layers → JobPlan. Rules apply in order, later overriding earlier field by field.
 * Also the checks that need the model: patterns matching nothing, rules wholly overridden by later
 * ones, bits a format cannot store, group sizes that do not suit a layer, output == model.
 */
import * as path from 'node:path';
import type { LayerInfo, ModelSummary } from '../protocol/model';
import { bindInputs, InputBindingError } from './inputBinding';
import {
  DEFAULT_ACCURACY_LEVEL,
  type JobPlan,
  type LayerPlan,
  type Method,
  type ExportFormat,
  type CalibrationPlan,
  type EvaluationPlan,
  type Metric,
  type ImageInputPlan,
  type InputOverride,
  type SparsityPlan,
} from '../protocol/plan';
import { METHOD_INFO, FORMAT_BITS, DEFAULT_LAYER_CONFIG, methodDefaults, RECIPE_SCHEMA, didYouMean } from './schema';
import { compilePattern, DOCUMENT_MATCH_STEPS, matchBudget, MatchBudgetExceeded, nameTrie } from './match';
import { storedFormatFor, BLOCKED_QDQ_OPSET } from './storedFormat';
import { budgetDiagnostics } from './budget';
import type { Recipe, Field, Rule } from './checkRecipe';
import type { RecipeDiagnostic, Span } from './parse';

const RULE_KEYS = ['method', 'bits', 'sparsity', 'group_size', 'symmetric', 'skip', 'format'] as const;
type RuleKey = (typeof RULE_KEYS)[number];

/** One layer's effective configuration with where each value came from. */
export interface EffectiveLayer {
  layer: LayerInfo;
  method: Method;
  bits: number;
  /** The recipe's `sparsity` value (0 = dense). */
  sparsity: number | string;
  groupSize: number;
  symmetric: boolean;
  skip: boolean;
  /** The format asked for this layer (a rule's `format`, else the top-level one; may be `auto`). */
  format: ExportFormat;
  settings: Record<string, unknown>;
  /** Rules that matched, in order. */
  rules: number[];
  /** The calibrated method asked for a layer calibration cannot observe (`method` is then rtn). */
  asked?: Method;
  /** The field (rule or defaults) that last set each value; undefined = schema default. */
  from: Partial<Record<RuleKey, Field<unknown>>>;
}

/** Which quantizable layers each rule matches, each layer's rules, and where the match budget ran out. */
interface MatchTable {
  matches: string[][];
  byLayer: Map<string, number[]>;
  exhaustedAt?: number;
}

const tables = new WeakMap<Recipe, WeakMap<readonly LayerInfo[], MatchTable>>();

/**
 * Matches every rule against the quantizable layers once per (recipe, layers), within one step budget
 * (recipe/match): rules from the one where the budget ran out on match nothing, and
 * `modelDiagnostics` reports an error there.
 */
function matchTable(recipe: Recipe, layers: readonly LayerInfo[]): MatchTable {
  let perRecipe = tables.get(recipe);
  if (!perRecipe) tables.set(recipe, (perRecipe = new WeakMap()));
  const hit = perRecipe.get(layers);
  if (hit) return hit;
  const names = layers.filter((l) => l.quantizable).map((l) => l.name);
  const budget = matchBudget();
  const trie = nameTrie(names);
  const byPattern = new Map<string, string[]>();
  const table: MatchTable = { matches: [], byLayer: new Map(names.map((n) => [n, []])) };
  for (const [i, r] of recipe.rules.entries()) {
    const c = r.match && table.exhaustedAt === undefined ? compilePattern(r.match.value) : undefined;
    let mine: string[] = [];
    if (c?.ok) {
      const seen = byPattern.get(r.match!.value);
      try {
        if (seen) mine = seen;
        else {
          const hits = c.filter(trie, budget);
          mine = names.filter((n) => hits.has(n));
          byPattern.set(r.match!.value, mine);
        }
      } catch (e) {
        if (!(e instanceof MatchBudgetExceeded)) throw e;
        table.exhaustedAt = i;
        mine = [];
      }
    }
    table.matches.push(mine);
    for (const n of mine) table.byLayer.get(n)!.push(i);
  }
  perRecipe.set(layers, table);
  return table;
}

/** Which quantizable layers each rule matches (by rule index). */
export function ruleMatches(recipe: Recipe, layers: readonly LayerInfo[]): string[][] {
  return matchTable(recipe, layers).matches;
}

/** Effective settings for every quantizable layer, in model order. */
export function effectiveLayers(recipe: Recipe, layers: readonly LayerInfo[]): EffectiveLayer[] {
  const v = recipe.values;
  const def = (k: string) => v[`defaults.${k}`];
  const table = matchTable(recipe, layers);
  return layers
    .filter((l) => l.quantizable)
    .map((layer) => {
      const e: EffectiveLayer = {
        layer,
        method: (def('method')?.value as Method) ?? DEFAULT_LAYER_CONFIG.method,
        bits: (def('bits')?.value as number) ?? DEFAULT_LAYER_CONFIG.bits,
        sparsity: (def('sparsity')?.value as number | string) ?? 0,
        groupSize: (def('group_size')?.value as number) ?? DEFAULT_LAYER_CONFIG.groupSize,
        symmetric: (def('symmetric')?.value as boolean) ?? DEFAULT_LAYER_CONFIG.symmetric,
        skip: false,
        format: (v.format?.value as ExportFormat) ?? 'auto',
        settings: {},
        rules: [],
        from: {
          method: def('method'),
          bits: def('bits'),
          sparsity: def('sparsity'),
          group_size: def('group_size'),
          symmetric: def('symmetric'),
          format: v.format,
        },
      };
      // Embedding tables are opt-in: skipped unless a rule matches them, rtn unless a rule names a method.
      if (layer.embedding) {
        e.skip = true;
        e.method = 'rtn';
        e.from.method = undefined;
      }
      let ruleSettings: Record<string, unknown> = Object.fromEntries(Object.entries(recipe.defaultSettings).map(([k, f]) => [k, f.value]));
      for (const i of table.byLayer.get(layer.name) ?? []) {
        const r = recipe.rules[i];
        e.rules.push(i);
        if (layer.embedding && !r.skip) e.skip = false;
        if (r.method) {
          e.method = r.method.value;
          e.from.method = r.method;
        }
        if (r.bits) {
          e.bits = r.bits.value;
          e.from.bits = r.bits;
        }
        if (r.sparsity) {
          e.sparsity = r.sparsity.value;
          e.from.sparsity = r.sparsity;
        }
        if (r.group_size) {
          e.groupSize = r.group_size.value;
          e.from.group_size = r.group_size;
        }
        if (r.symmetric) {
          e.symmetric = r.symmetric.value;
          e.from.symmetric = r.symmetric;
        }
        if (r.skip) {
          e.skip = r.skip.value;
          e.from.skip = r.skip;
        }
        if (r.format) {
          e.format = r.format.value;
          e.from.format = r.format;
        }
        for (const [k, f] of Object.entries(r.settings)) ruleSettings = { ...ruleSettings, [k]: f.value };
      }
      if (layer.dataFree && METHOD_INFO[e.method].needsCalibration) {
        // Data-free fallback: HQQ (zero points optimized without data); rtn when symmetric (HQQ has no zero point to fit then).
        e.asked = e.method;
        e.method = METHOD_INFO[e.method].prunes || isSparse(e) ? 'magnitude' : e.symmetric ? 'rtn' : 'hqq';
      }
      const info = METHOD_INFO[e.method];
      if (info.fixedBits !== undefined) e.bits = info.fixedBits;
      const fromMethods = Object.fromEntries(Object.entries(recipe.methods[e.method] ?? {}).map(([k, f]) => [k, f.value]));
      const own = Object.fromEntries(Object.entries(ruleSettings).filter(([k]) => k in info.settings));
      e.settings = { ...methodDefaults(e.method), ...fromMethods, ...own };
      // The data-free fallback keeps the layer storable: real-valued HQQ zero points only where the layer is written fake-quant.
      if (e.asked && e.method === 'hqq' && !('zero_point' in fromMethods) && !('zero_point' in own))
        e.settings.zero_point = e.format === 'fake' ? 'float' : 'integer';
      return e;
    });
}

/**
 * Indices of rules wholly overridden: every field they set is set again (or made moot by a skip) for
 * every layer they match. One pass from the last rule back, keeping per layer the fields later rules
 * set: linear in the number of (rule, matched layer) pairs.
 */
export function deadRules(recipe: Recipe, matches: string[][]): number[] {
  const dead: number[] = [];
  const later = new Map<string, { keys: Set<string>; skipped: boolean }>();
  for (let i = recipe.rules.length - 1; i >= 0; i--) {
    const r = recipe.rules[i];
    const mine = matches[i];
    const keys = [...RULE_KEYS.filter((k) => r[k]), ...Object.keys(r.settings).map((k) => `settings.${k}`)];
    if (
      mine.length &&
      keys.length &&
      mine.every((name) => {
        const l = later.get(name);
        return Boolean(l) && keys.every((k) => (l!.skipped && k !== 'skip') || l!.keys.has(k));
      })
    )
      dead.push(i);
    for (const name of mine) {
      let l = later.get(name);
      if (!l) later.set(name, (l = { keys: new Set(), skipped: false }));
      for (const k of keys) l.keys.add(k);
      if (r.skip?.value === true) l.skipped = true;
    }
  }
  return dead.reverse();
}

/** Whether the layer is pruned: a pruning method (or one that prunes after its scaling) with a non-zero sparsity. */
export function isSparse(e: Pick<EffectiveLayer, 'method' | 'sparsity'>): boolean {
  const info = METHOD_INFO[e.method];
  return Boolean(info.prunes || info.prunesAfterScaling) && e.sparsity !== 0;
}

/** The pruning algorithm a sparse layer runs: its method, or for SmoothQuant/AWQ their `sparsity_method`. */
export function pruningMethod(e: Pick<EffectiveLayer, 'method' | 'settings'>): string {
  return METHOD_INFO[e.method].prunesAfterScaling ? String(e.settings.sparsity_method ?? 'wanda') : e.method;
}

/** The recipe's `sparsity` value as the plan's: a fraction or N:M. */
export function sparsityPlan(v: number | string): SparsityPlan {
  if (typeof v === 'number') return { ratio: v };
  const [n, m] = v.split(':').map(Number);
  return { n: n!, m: m! };
}

/** Adds `name` to the diagnostic grouped under `key` (one diagnostic per key lists every layer it concerns). */
type AddGroupedDiagnostic = (
  key: string,
  span: Span,
  severity: RecipeDiagnostic['severity'],
  code: string,
  data: Record<string, unknown>,
  message: (names: string[]) => string,
  name: string,
) => void;

/** JSQ on a layer other than MatMul/Gemm: its saliency and activation editor read token rows of a [..., in] input. */
function jsqDiagnostics(e: EffectiveLayer, fallback: Span, add: AddGroupedDiagnostic, list: (names: string[]) => string): void {
  if (e.method !== 'jsq' || e.layer.op === 'MatMul' || e.layer.op === 'Gemm') return;
  const sp = e.from.method?.span ?? fallback;
  add(
    `jsqop:${sp.start}:${e.layer.op}`,
    sp,
    'error',
    'jsq-op',
    {},
    (n) =>
      `jsq needs MatMul or Gemm layers (its saliency and activation editor read token rows of the input); ${list(n)} ${n.length === 1 ? 'is' : 'are'} ${e.layer.op} — use sparsegpt or wanda there.`,
    e.layer.name,
  );
}

/** Diagnostics of a layer's sparsity: a method that cannot prune, N:M the layer's width or group size cannot hold, dense storage. */
function sparsityDiagnostics(
  e: EffectiveLayer,
  stored: string,
  groupSize: number,
  fallback: Span,
  add: AddGroupedDiagnostic,
  list: (names: string[]) => string,
): void {
  const name = e.layer.name;
  const info = METHOD_INFO[e.method];
  const sp = e.from.sparsity?.span ?? fallback;
  if (e.sparsity === 0) {
    if (info.prunes && e.from.method)
      add(
        `sp0:${e.from.method.span.start}`,
        e.from.method.span,
        'information',
        'no-sparsity',
        {},
        (n) =>
          `${e.method} without a \`sparsity\` prunes nothing (it is ${e.method === 'sparsegpt' ? 'gptq' : e.method === 'jsq' ? 'smoothquant with the activation editor' : 'rtn'}) — ${list(n)}.`,
        name,
      );
    return;
  }
  if (!info.prunes && !info.prunesAfterScaling) {
    add(
      `spm:${sp.start}:${e.method}`,
      sp,
      'error',
      'sparsity-method',
      { method: 'sparsegpt' },
      (n) =>
        `${e.method} cannot prune; \`sparsity\` needs method sparsegpt, wanda, magnitude or jsq (or smoothquant / awq, which prune after scaling) — ${list(n)}.`,
      name,
    );
    return;
  }
  const plan = sparsityPlan(e.sparsity);
  const pruner = pruningMethod(e);
  const what = pruner === e.method ? pruner : `${e.method} with sparsity_method ${pruner}`;
  if ('m' in plan) {
    const inDim = e.layer.shape[1] ?? 0;
    if (inDim % plan.m !== 0)
      add(
        `spw:${sp.start}:${plan.m}`,
        sp,
        'error',
        'sparsity-width',
        {},
        (n) =>
          `${e.sparsity} sparsity needs an input width that is a multiple of ${plan.m}; ${list(n)} ${n.length === 1 ? 'has' : 'have'} ${inDim}.`,
        name,
      );
    else if (groupSize !== -1 && groupSize < inDim && groupSize % plan.m !== 0 && pruner === 'sparsegpt') {
      const gs = e.from.group_size?.span ?? sp;
      add(
        `spg:${gs.start}:${plan.m}`,
        gs,
        'error',
        'sparsity-group',
        {},
        (n) => `${what} with ${e.sparsity} sparsity needs a group size that is a multiple of ${plan.m} (got ${groupSize}) — ${list(n)}.`,
        name,
      );
    }
    const bs = e.method === 'sparsegpt' ? e.settings.block_size : methodDefaults('sparsegpt').block_size;
    if (pruner === 'sparsegpt' && typeof bs === 'number' && bs % plan.m !== 0)
      add(
        `spb:${sp.start}:${plan.m}`,
        sp,
        'error',
        'sparsity-block',
        {},
        (n) => `${what} with ${e.sparsity} sparsity needs block_size to be a multiple of ${plan.m} (got ${bs}) — ${list(n)}.`,
        name,
      );
  }
  if (stored === 'matmulnbits' || stored === 'qdq')
    add(
      `spd:${sp.start}:${stored}`,
      e.from.format?.span ?? sp,
      'information',
      'sparsity-dense',
      { format: 'packed' },
      (n) =>
        `${stored} has no sparse form: the pruned weights of ${list(n)} are stored as dense zeros (no size gain; format packed or auto keeps only the survivors).`,
      name,
    );
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * Embedding tables: a method that needs activations cannot quantize a table alone (nothing multiplies
 * it); a tied table (Gather + head, one tensor) quantized on both sides is stored once, so both sides
 * must ask for the same bits, group size and symmetry.
 */
function tiedDiagnostics(effective: EffectiveLayer[], fallback: Span): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  const byName = new Map(effective.map((e) => [e.layer.name, e]));
  for (const e of effective) {
    if (!e.layer.embedding || e.skip) continue;
    const head = e.layer.tiedWith ? byName.get(e.layer.tiedWith) : undefined;
    const headPlanned = head && !head.skip;
    if (METHOD_INFO[e.method].needsCalibration && !headPlanned) {
      out.push({
        span: e.from.method?.span ?? fallback,
        severity: 'error',
        code: 'embedding-method',
        message: `\`${e.layer.name}\` is an embedding table (Gather): nothing multiplies it with activations, so ${e.method} has no calibration statistics; use method: rtn (the default for tables)${e.layer.tiedWith ? ` or quantize its tied head \`${e.layer.tiedWith}\` too` : ''}.`,
      });
    }
    if (!head || !headPlanned) continue;
    const diff = (['bits', 'groupSize', 'symmetric'] as const).filter((k) => e[k] !== head[k]);
    if (!diff.length) continue;
    const key = ({ bits: 'bits', groupSize: 'group_size', symmetric: 'symmetric' } as const)[diff[0]];
    const show = (x: EffectiveLayer) => `${x.bits}-bit, group ${x.groupSize}${x.symmetric ? ', symmetric' : ''}`;
    const span = e.from[key]?.span ?? head.from[key]?.span ?? fallback;
    out.push({
      span,
      severity: 'error',
      code: 'tied-formats',
      message: `\`${e.layer.name}\` and \`${head.layer.name}\` are one tied table (the embedding and the LM head read the same tensor), stored once; they cannot be two formats (${show(e)} vs ${show(head)}). Give both the same bits, group_size and symmetric, or skip one.`,
    });
  }
  return out;
}

/** Model-dependent diagnostics (patterns, dead rules, bits/format, group sizes). */
export function modelDiagnostics(recipe: Recipe, layers: readonly LayerInfo[]): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  const table = matchTable(recipe, layers);
  const matches = table.matches;
  if (table.exhaustedAt !== undefined) {
    const r = recipe.rules[table.exhaustedAt];
    out.push({
      span: r.match?.span ?? r.span,
      severity: 'error',
      code: 'match-budget',
      message: `Pattern matching stopped at rule ${table.exhaustedAt + 1}: the recipe's patterns need more than ${DOCUMENT_MATCH_STEPS} automaton steps against the model's ${layers.length} layers; merge or simplify the patterns.`,
    });
  }
  recipe.rules.forEach((r, i) => {
    if (!r.match || (table.exhaustedAt !== undefined && i >= table.exhaustedAt)) return;
    const c = compilePattern(r.match.value);
    if (!c.ok) {
      out.push({
        span: r.match.span,
        severity: 'error',
        message: `Invalid pattern \`${r.match.value.slice(0, 80)}\`: ${c.error}.`,
        code: 'bad-pattern',
      });
      return;
    }
    if (!matches[i].length)
      out.push({
        span: r.match.span,
        severity: 'warning',
        message: `Pattern \`${r.match.value.slice(0, 80)}\` matches no quantizable layer of the model.`,
        code: 'no-match',
        data: { rule: i },
      });
  });
  for (const i of deadRules(recipe, matches)) {
    out.push({
      span: recipe.rules[i].span,
      severity: 'warning',
      message: `Rule ${i + 1} (\`${recipe.rules[i].match?.value}\`) has no effect: later rules override everything it sets.`,
      code: 'dead-rule',
      data: { rule: i },
    });
  }
  const formatField = recipe.values.format;
  const grouped = new Map<
    string,
    {
      span: Span;
      severity: RecipeDiagnostic['severity'];
      message: (names: string[]) => string;
      code: string;
      data: Record<string, unknown>;
      names: string[];
    }
  >();
  const add: AddGroupedDiagnostic = (key, span, severity, code, data, message, name) => {
    const g = grouped.get(key) ?? { span, severity, message, code, data, names: [] };
    g.names.push(name);
    grouped.set(key, g);
  };
  const fallback: Span = formatField?.span ?? recipe.values.model?.span ?? { start: 0, end: 0 };
  const list = (names: string[]) => (names.length > 3 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} more` : names.join(', '));
  const effective = effectiveLayers(recipe, layers);
  out.push(...tiedDiagnostics(effective, fallback));
  for (const e of effective) {
    if (e.skip) continue;
    const name = e.layer.name;
    const info = METHOD_INFO[e.method];
    const format = e.format;
    // A rule's own `format` is checked at the rule: the error sits on that line, not at export.
    const ruleFormat = e.from.format && e.from.format !== formatField ? e.from.format : undefined;
    const fmtSpan = e.from.format?.span ?? fallback;
    const choice = storedFormatFor(format, e.layer, e.method, e.bits, e.groupSize, isSparse(e));
    const stored = choice.format;
    sparsityDiagnostics(e, stored, choice.groupSize, fallback, add, list);
    jsqDiagnostics(e, fallback, add, list);
    if (format !== 'auto' && format !== 'fake' && !info.formats.includes(format)) {
      const sp = ruleFormat?.span ?? e.from.method?.span ?? fallback;
      if (stored === 'packed') {
        add(
          `fmtpk:${sp.start}`,
          sp,
          'information',
          'format-fallback',
          { format: 'packed', method: e.method },
          (n) => `${e.method} weights fit no ${format} grid; they are stored packed (bit planes + scales) — ${list(n)}.`,
          name,
        );
      } else {
        add(
          `fmt:${sp.start}`,
          sp,
          'error',
          'unsupported-format',
          { format: info.formats[0], method: e.method },
          (n) => `${e.method} cannot be stored as ${format} (use format: ${info.formats.join(' or ')}) — ${list(n)}.`,
          name,
        );
        continue;
      }
    }
    if (stored === 'matmulnbits' && e.layer.op !== 'MatMul' && e.layer.op !== 'Gemm') {
      // A fixed top-level format keeps the old behaviour (the exporter writes such layers fake-quant, with a warning).
      add(
        `fmtop:${fmtSpan.start}:${e.layer.op}`,
        fmtSpan,
        ruleFormat ? 'error' : 'warning',
        'unsupported-format-op',
        { format: 'auto', op: e.layer.op },
        (n) =>
          `matmulnbits cannot hold ${e.layer.op} layers (MatMulNBits replaces MatMul and Gemm only)${ruleFormat ? '; use format: qdq, packed or auto' : '; they would be written as fake-quant float weights'} — ${list(n)}.`,
        name,
      );
      if (ruleFormat) continue;
    }
    if (e.asked) {
      const sp = e.from.method?.span ?? fallback;
      add(
        `datafree:${sp.start}:${e.asked}:${e.method}`,
        sp,
        'warning',
        'data-free',
        { method: e.method },
        (n) =>
          `${e.asked} needs calibration, but calibration cannot observe the inputs of ${list(n)} (${e.layer.dataFree}): they are ${e.method === 'magnitude' ? 'pruned by magnitude' : `quantized with ${e.method}`}, data-free.`,
        name,
      );
    }
    // MatMulNBits stores real-valued zero points (the scales' type) for MatMul/Gemm at 2 and 4 bits (onnxruntime's limit).
    const floatZerosFit = stored === 'matmulnbits' && (e.layer.op === 'MatMul' || e.layer.op === 'Gemm') && (e.bits === 2 || e.bits === 4);
    if (e.method === 'hqq' && e.settings.zero_point === 'float' && stored !== 'fake' && !floatZerosFit) {
      const sp = e.from.method?.span ?? fmtSpan;
      add(
        `hqqfloat:${sp.start}:${stored}`,
        sp,
        'information',
        'format-fallback',
        { format: 'fake', method: 'hqq' },
        (n) =>
          `hqq's real-valued zero points (zero_point: float) cannot be stored as ${stored}${stored === 'matmulnbits' ? ` for ${e.layer.op} layers at ${e.bits} bits (MatMulNBits takes them for MatMul/Gemm at 2 or 4 bits)` : ''}: ${list(n)} will be written fake-quant (float weights); zero_point: integer stores them as ${stored}.`,
        name,
      );
    }
    if (format === 'auto' && choice.note) {
      const sp = e.from.format?.span ?? e.from.bits?.span ?? fallback;
      add(
        `auto:${sp.start}:${choice.format}:${choice.bits}:${e.layer.op}`,
        sp,
        'information',
        'auto-format',
        { format: choice.format, bits: choice.bits },
        (n) =>
          `format auto stores ${n.length} ${e.layer.op} layer${n.length === 1 ? '' : 's'} as ${choice.format}${choice.bits !== e.bits ? ` ${choice.bits}-bit${choice.groupSize === -1 ? ' per channel' : ''}` : ''}: ${choice.note} — ${list(n)}.`,
        name,
      );
    }
    if (!FORMAT_BITS[stored].includes(choice.bits)) {
      const sp = ruleFormat?.span ?? e.from.bits?.span ?? fallback;
      const allowed = FORMAT_BITS[stored];
      const nearest = [...allowed].sort((a, b) => Math.abs(a - e.bits) - Math.abs(b - e.bits) || b - a)[0];
      add(
        `bits:${sp.start}`,
        sp,
        'error',
        'unsupported-bits',
        { bits: nearest, format: 'fake' },
        (n) => `${stored} cannot store ${e.bits}-bit weights (it stores ${allowed.join('/')}) — ${list(n)}.`,
        name,
      );
    }
    if (stored === 'qdq' && choice.groupSize !== -1 && (e.layer.opset ?? 0) < BLOCKED_QDQ_OPSET && ruleFormat) {
      const sp = ruleFormat.span;
      add(
        `qdqop:${sp.start}`,
        sp,
        'information',
        'opset-upgrade',
        {},
        (n) =>
          `qdq with group_size ${choice.groupSize} needs blocked DequantizeLinear: the model's opset ${e.layer.opset ?? '?'} is raised to ${BLOCKED_QDQ_OPSET} — ${list(n)}.`,
        name,
      );
    }
    const g = choice.groupSize;
    const inDim = e.layer.shape[1];
    const sp = e.from.group_size?.span ?? fallback;
    if (g !== -1 && g < 1) add(`g0:${sp.start}`, sp, 'error', 'bad-group', {}, () => `group_size must be -1 or positive (got ${g}).`, name);
    else if (g !== -1 && stored === 'matmulnbits' && (!isPow2(g) || g < 16)) {
      add(
        `gp2:${sp.start}`,
        sp,
        'error',
        'bad-group',
        { group_size: Math.max(16, 2 ** Math.round(Math.log2(Math.max(g, 1)))) },
        (n) => `matmulnbits needs a group size that is a power of 2 and at least 16 (got ${g}) — ${list(n)}.`,
        name,
      );
    } else if (g > inDim) {
      add(
        `gbig:${sp.start}`,
        sp,
        'warning',
        'group-too-large',
        {},
        (n) => `group_size ${g} is larger than the input width of ${list(n)} (${inDim}); each row is one group.`,
        name,
      );
    } else if (g > 0 && inDim % g !== 0) {
      add(
        `gpad:${sp.start}:${g}`,
        sp,
        'information',
        'group-padded',
        {},
        (n) => `group_size ${g} does not divide the input width of ${list(n)}; the last group is zero-padded.`,
        name,
      );
    }
  }
  for (const g of grouped.values())
    out.push({
      span: g.span,
      severity: g.severity,
      message: g.message(g.names),
      code: g.code,
      data: { ...g.data, layers: g.names.length },
    });
  return out;
}

/** Diagnostics that need neither the model nor the file system (output == model, calibration needs). */
export function recipeDiagnostics(recipe: Recipe, recipePath: string): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  const v = recipe.values;
  const dir = path.dirname(recipePath);
  if (v.model && v.output && path.resolve(dir, String(v.model.value)) === path.resolve(dir, String(v.output.value))) {
    out.push({
      span: v.output.span,
      severity: 'error',
      message: '`output` is the input model; the compressed model must be written elsewhere.',
      code: 'output-is-model',
    });
  }
  if (v['calibration.text'] && !v['calibration.tokenizer'])
    out.push({
      span: v['calibration.text'].keySpan,
      severity: 'error',
      message: '`calibration.text` needs `calibration.tokenizer`.',
      code: 'missing-key',
      data: { key: 'tokenizer' },
    });
  if (v['evaluate.text'] && !v['evaluate.tokenizer'] && !v['calibration.tokenizer'])
    out.push({
      span: v['evaluate.text'].keySpan,
      severity: 'error',
      message: '`evaluate.text` needs a tokenizer (`evaluate.tokenizer` or `calibration.tokenizer`).',
      code: 'missing-key',
      data: { key: 'tokenizer' },
    });
  if (v['evaluate.generate.prompt'] && !v['evaluate.text'])
    out.push({
      span: v['evaluate.generate.prompt'].keySpan,
      severity: 'error',
      message: '`evaluate.generate` needs `evaluate.text` (and a tokenizer): generation runs with the text evaluation of a language model.',
      code: 'missing-key',
      data: { key: 'text' },
    });
  const sources = ['text', 'tensors', 'images'].filter((k) => v[`calibration.${k}`]);
  if (!sources.length) {
    const methodFields = [v['defaults.method'], ...recipe.rules.map((r) => r.method)].filter((f): f is Field<unknown> => Boolean(f));
    for (const f of methodFields) {
      const m = f.value as Method;
      if (METHOD_INFO[m]?.needsCalibration)
        out.push({
          span: f.span,
          severity: 'warning',
          message: `${m} is calibrated on activations, but the recipe gives no \`calibration\` data: random token ids will be used.`,
          code: 'no-calibration',
        });
    }
  }
  if (sources.length > 1)
    out.push({
      span: v[`calibration.${sources[1]}`].keySpan,
      severity: 'error',
      message: `Give one calibration source, not ${sources.join(' and ')}.`,
      code: 'conflict',
    });
  out.push(...gptaqDiagnostics(recipe));
  out.push(...budgetDiagnostics(recipe));
  return out;
}

/** GPTAQ (`asymmetric: true`) compares float and quantized-prefix inputs: only sequential calibration has both. */
function gptaqDiagnostics(recipe: Recipe): RecipeDiagnostic[] {
  if (recipe.values['calibration.mode']?.value === 'sequential') return [];
  const fields = [recipe.methods.gptq?.asymmetric, recipe.defaultSettings.asymmetric, ...recipe.rules.map((r) => r.settings.asymmetric)];
  return fields
    .filter((f): f is Field<unknown> => f?.value === true)
    .map((f) => ({
      span: f.span,
      severity: 'error' as const,
      message:
        '`asymmetric: true` (GPTAQ) needs `calibration.mode: sequential`: with parallel calibration every layer sees the float inputs, so there is no quantized-prefix input to match and it would be plain GPTQ.',
      code: 'gptaq-needs-sequential',
    }));
}

/** Resolve every path-valued key against the recipe's folder. */
export function resolvedPaths(recipe: Recipe, recipePath: string): { key: string; field: Field<unknown>; path: string }[] {
  const dir = path.dirname(recipePath);
  const out: { key: string; field: Field<unknown>; path: string }[] = [];
  const walk = (fields: typeof RECIPE_SCHEMA, prefix: string) => {
    for (const [k, f] of Object.entries(fields)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (f.kind === 'object') walk(f.fields, key);
      else if (f.kind === 'string' && f.path && recipe.values[key])
        out.push({ key, field: recipe.values[key], path: path.resolve(dir, String(recipe.values[key].value)) });
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
  const g = <T>(k: string, d: T): T =>
    (recipe.values[`${prefix}.image.${k}`]?.value as T) ?? (recipe.values[`calibration.image.${k}`]?.value as T) ?? d;
  return {
    height: g('height', 48),
    width: g('width', -1),
    mean: g('mean', [0.5, 0.5, 0.5]),
    std: g('std', [0.5, 0.5, 0.5]),
    layout: g('layout', 'nchw'),
    channels: g('channels', 'rgb'),
  };
}

/**
 * `inputs:` against the model's real graph inputs: every key must be an input, and when the data are
 * token windows (text or random calibration, text evaluation, or an `inputs:` section) every input
 * must be bindable (recipe/inputBinding.ts).
 */
/**
 * `inputs:` keys that are no model input, and graph inputs the rule table cannot bind when token
 * windows will be fed. With `layers`, random calibration feeds only when a planned layer needs it
 * (layers inside subgraphs and recurrent weights are data-free and never do).
 */
export function inputDiagnostics(recipe: Recipe, inputs: ModelSummary['inputs'], layers?: readonly LayerInfo[]): RecipeDiagnostic[] {
  const out: RecipeDiagnostic[] = [];
  const names = inputs.map((i) => i.name);
  for (const [k, f] of Object.entries(recipe.inputs)) {
    if (names.includes(k)) continue;
    const guess = didYouMean(k, names);
    out.push({
      span: f.keySpan,
      severity: 'error',
      message: `\`${k}\` is not an input of the model (inputs: ${names.join(', ')}).${guess ? ` Did you mean \`${guess}\`?` : ''}`,
      code: 'unknown-key',
      data: guess ? { replacement: guess } : undefined,
    });
  }
  const v = recipe.values;
  const tokens = Boolean(
    v['calibration.text'] ||
    v['evaluate.text'] ||
    Object.keys(recipe.inputs).length ||
    (!v['calibration.tensors'] &&
      !v['calibration.images'] &&
      inputs.some((i) => i.dtype === 'int64') &&
      (!layers || effectiveLayers(recipe, layers).some((e) => !e.skip && METHOD_INFO[e.method].needsCalibration))),
  );
  if (out.length || !tokens) return out;
  try {
    bindInputs(
      { path: 'the model', inputs },
      Object.fromEntries(Object.entries(recipe.inputs).map(([k, f]) => [k, f.value as InputOverride])),
    );
  } catch (e) {
    if (!(e instanceof InputBindingError)) throw e;
    const anchor = recipe.parsed.root?.kind === 'map' ? recipe.parsed.root.entries.find((x) => x.key === 'inputs')?.keySpan : undefined;
    out.push({
      span: anchor ?? v.model?.span ?? { start: 0, end: 0 },
      severity: 'error',
      message: e.message.replace(/^the model: /, 'Model input: '),
      code: 'input-binding',
    });
  }
  return out;
}

/**
 * Resolve a checked recipe against the model's layers. The plan is returned only when no error
 * was found (warnings allowed); diagnostics include the model-dependent ones.
 */
export function resolvePlan(
  recipe: Recipe,
  layers: readonly LayerInfo[],
  recipePath = path.resolve('recipe.lowbit.yaml'),
  inputs?: ModelSummary['inputs'],
): { plan?: JobPlan; diagnostics: RecipeDiagnostic[] } {
  const diagnostics = [
    ...recipe.diagnostics,
    ...recipeDiagnostics(recipe, recipePath),
    ...modelDiagnostics(recipe, layers),
    ...(inputs ? inputDiagnostics(recipe, inputs, layers) : []),
  ];
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const v = recipe.values;
  const dir = path.dirname(recipePath);
  const p = (k: string) => (v[k] ? path.resolve(dir, String(v[k].value)) : undefined);
  const num = (k: string, d: number) => (v[k]?.value as number | undefined) ?? d;
  const mode = (v['calibration.mode']?.value as 'parallel' | 'sequential') ?? 'parallel';
  const samples = num('calibration.samples', 32);
  const calibration: CalibrationPlan = p('calibration.text')
    ? {
        kind: 'text',
        textPath: p('calibration.text')!,
        tokenizerPath: p('calibration.tokenizer')!,
        samples,
        sequenceLength: num('calibration.sequence_length', 256),
        mode,
        offset: v['calibration.offset'] ? num('calibration.offset', 0) : undefined,
      }
    : p('calibration.tensors')
      ? { kind: 'tensors', path: p('calibration.tensors')!, samples, mode }
      : p('calibration.images')
        ? { kind: 'images', path: p('calibration.images')!, samples, mode, image: image(recipe, 'calibration') }
        : { kind: 'random', samples, seed: num('seed', 0), mode };
  const metrics = (v['evaluate.metrics']?.value as Metric[]) ?? ['perplexity', 'kl_divergence', 'top1_agreement', 'size'];
  const es = num('evaluate.samples', 16);
  const tok = p('evaluate.tokenizer') ?? p('calibration.tokenizer');
  let evaluation: EvaluationPlan;
  const generate = v['evaluate.generate.prompt']
    ? { prompt: String(v['evaluate.generate.prompt'].value), tokens: num('evaluate.generate.tokens', 32) }
    : undefined;
  if (p('evaluate.text') && tok)
    evaluation = {
      kind: 'text',
      textPath: p('evaluate.text')!,
      tokenizerPath: tok,
      samples: es,
      sequenceLength: num('evaluate.sequence_length', 256),
      offset: num('evaluate.offset', 0),
      metrics,
      ...(generate ? { generate } : {}),
    };
  else if (p('evaluate.tensors')) evaluation = { kind: 'tensors', path: p('evaluate.tensors')!, samples: es, metrics };
  else if (p('evaluate.images'))
    evaluation = {
      kind: 'images',
      path: p('evaluate.images')!,
      samples: es,
      image: image(recipe, 'evaluate'),
      labelsPath: p('evaluate.labels'),
      metrics,
    };
  else evaluation = { kind: 'none', metrics: metrics.filter((m) => m === 'size') };
  const eff = effectiveLayers(recipe, layers);
  const planned = new Set(eff.filter((e) => !e.skip).map((e) => e.layer.name));
  // A tied table whose head is planned takes the head's codes (engine/quantize/tiedTables.ts); its own pass is plain rtn.
  const sharesHead = (e: EffectiveLayer) => Boolean(e.layer.embedding && e.layer.tiedWith && planned.has(e.layer.tiedWith));
  const planLayers: LayerPlan[] = eff
    .filter((e) => !e.skip)
    .map((e) => {
      const c = storedFormatFor(e.format, e.layer, e.method, e.bits, e.groupSize, isSparse(e));
      return {
        name: e.layer.name,
        method: sharesHead(e) ? 'rtn' : e.method,
        bits: c.bits,
        groupSize: c.groupSize,
        symmetric: e.symmetric,
        format: c.format,
        settings: sharesHead(e) ? {} : e.settings,
        ...(isSparse(e) && !sharesHead(e) ? { sparsity: sparsityPlan(e.sparsity) } : {}),
        rules: e.rules,
      };
    });
  const skipped = eff
    .filter((e) => e.skip && e.from.skip)
    .map((e) => ({ name: e.layer.name, rule: recipe.rules.indexOf(recipe.rules.filter((r: Rule) => r.skip === e.from.skip)[0]) }));
  const outputPath = p('output')!;
  const plan: JobPlan = {
    recipePath,
    modelPath: p('model')!,
    outputPath,
    reportPath: reportPathFor(outputPath),
    format: (v.format?.value as ExportFormat) ?? 'auto',
    calibration,
    evaluation,
    layers: planLayers,
    skipped,
    threads: num('threads', 0),
    seed: num('seed', 0),
    accuracyLevel: num('accuracy_level', DEFAULT_ACCURACY_LEVEL),
    memory: {
      streaming: (v['memory.streaming']?.value as 'auto' | 'always' | 'never') ?? 'auto',
      ...(v['memory.budget_mb'] ? { budgetBytes: num('memory.budget_mb', 0) * 1e6 } : {}),
      ...(p('memory.cache') ? { cacheFolder: p('memory.cache') } : {}),
    },
  };
  if (v['rotation.method']?.value === 'hadamard')
    plan.rotation = {
      method: 'hadamard',
      seed: num('rotation.seed', 0),
      online: (v['rotation.online']?.value as 'none' | 'down' | 'all' | undefined) ?? 'none',
    };
  if (Object.keys(recipe.inputs).length)
    plan.inputs = Object.fromEntries(Object.entries(recipe.inputs).map(([k, f]) => [k, f.value as InputOverride]));
  return { plan, diagnostics };
}
