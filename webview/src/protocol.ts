/**
 * Messages between the extension host and the Lowbit webview panels. Both sides import this module
 * and validate every message they receive with `parseToWebview` / `parseFromWebview`: anything that
 * is not exactly one of these shapes is rejected (returns an error string) and never acted on.
 */
import type { Report, LayerReport } from '../../protocol/report';

/** The report version the panels read (type-checked against protocol/report.ts REPORT_VERSION). */
const REPORT_VERSION_READ: Report['version'] = 2;

/** The four panels; also the bundle name under dist/webview/<kind>.js. */
export const PANEL_KINDS = ['report', 'sensitivity', 'saliency', 'ranks', 'pareto'] as const;
export type PanelKind = (typeof PANEL_KINDS)[number];

/** One layer's sensitivity as the sensitivity panel shows it. */
export interface LayerSensitivityView {
  name: string;
  proxy: number;
  kl?: number;
}

/** One configuration on the Pareto panel: stored bits per weight vs estimated loss. */
export interface ParetoPoint {
  label: string;
  bitsPerWeight: number;
  loss: number;
  fits: boolean;
}

/** What the Pareto panel shows for one budget suggestion (and, after a run, the measured point). */
export interface ParetoView {
  /** `3.5 bits/weight as matmulnbits`. */
  budget: string;
  budgetBitsPerWeight: number;
  estimate: 'kl' | 'proxy';
  uniform: ParetoPoint[];
  frontier: ParetoPoint[];
  chosen: ParetoPoint;
  /** The run of the suggested recipe: bits/weight measured from the written file, held-out KL. */
  measured?: { bitsPerWeight: number; kl: number; perplexity?: number };
}

/** Which point a click on the Pareto panel previews. */
export type ParetoPick = { set: 'uniform' | 'frontier' | 'chosen'; index: number };

/** An entry of the report history (for "compare two runs"). */
export interface HistoryEntry {
  path: string;
  label: string;
}

/** Host → webview. */
export type ToWebview =
  | { type: 'report'; report: Report; reportPath: string; history: HistoryEntry[] }
  | { type: 'compare'; report: Report; reportPath: string }
  | { type: 'sensitivity'; layers: LayerSensitivityView[]; done: boolean }
  | { type: 'mixedPrecision'; chosen: string[] }
  | { type: 'pareto'; view: ParetoView }
  | { type: 'error'; message: string };

/** Webview → host. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'revealLayer'; layer: string }
  | { type: 'compare'; path: string }
  | { type: 'runSensitivity' }
  | { type: 'suggestBudget' }
  | { type: 'applyMixedPrecision'; highBits: number; budgetFraction: number }
  | ({ type: 'previewPoint' } & ParetoPick);

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const optNum = (x: unknown) => x === undefined || isNum(x);

/** Checks that `x` has exactly the listed keys (no unknown extras). */
function onlyKeys(x: Obj, keys: string[]): string | null {
  const extra = Object.keys(x).filter((k) => !keys.includes(k));
  return extra.length ? `unexpected field(s) ${extra.join(', ')}` : null;
}

/** Validates one layer of a report; returns an error naming the layer, or null. */
export function checkLayerReport(l: unknown, i: number): string | null {
  if (!isObj(l)) return `layers[${i}] is not an object`;
  const where = `layers[${i}] (${isStr(l.name) ? l.name : '?'})`;
  if (!isStr(l.name)) return `layers[${i}].name must be a string`;
  for (const k of ['params', 'bits', 'rel_error', 'bits_per_weight', 'group_size'] as const) {
    if (!isNum(l[k])) return `${where}.${k} must be a finite number`;
  }
  if (!isStr(l.method)) return `${where}.method must be a string`;
  if (!Array.isArray(l.shape) || l.shape.length !== 2 || !l.shape.every(isNum)) return `${where}.shape must be [out, in]`;
  if (l.binarization !== undefined) {
    const b = l.binarization as Obj;
    const s = isObj(b) ? (b.saliency as Obj) : undefined;
    if (
      !isObj(s) ||
      !isNum(s.rows) ||
      !isNum(s.cols) ||
      !Array.isArray(s.values) ||
      s.values.length !== s.rows * s.cols ||
      !s.values.every(isNum)
    ) {
      return `${where}.binarization.saliency must be {rows, cols, values[rows*cols]}`;
    }
    if (!Array.isArray(b.column_profile) || !b.column_profile.every(isNum)) return `${where}.binarization.column_profile must be numbers`;
    if (!Array.isArray(b.salient_columns) || !b.salient_columns.every(isNum))
      return `${where}.binarization.salient_columns must be numbers`;
  }
  if (l.sparsity !== undefined) {
    const sp = l.sparsity as Obj;
    if (!isObj(sp) || !isStr(sp.pattern) || !isNum(sp.pruned)) return `${where}.sparsity must have a pattern string and a numeric pruned`;
    if (sp.storage !== undefined && !['bitmap', 'index', 'dense'].includes(sp.storage as string))
      return `${where}.sparsity.storage must be bitmap, index or dense`;
    for (const k of ['mask', 'saliency'] as const) {
      const m = sp[k] as Obj;
      if (
        !isObj(m) ||
        !isNum(m.rows) ||
        !isNum(m.cols) ||
        !Array.isArray(m.values) ||
        m.values.length !== m.rows * m.cols ||
        !m.values.every(isNum)
      )
        return `${where}.sparsity.${k} must be {rows, cols, values[rows*cols]}`;
    }
  }
  if (l.low_rank !== undefined) {
    const r = l.low_rank as Obj;
    if (!isObj(r) || !isNum(r.rank) || !isNum(r.storage_overhead) || !isNum(r.rel_error_before) || !isNum(r.rel_error_after)) {
      return `${where}.low_rank must have numeric rank, storage_overhead, rel_error_before, rel_error_after`;
    }
  }
  if (l.hqq !== undefined) {
    const h = l.hqq as Obj;
    if (
      !isObj(h) ||
      !isNum(h.iterations) ||
      !isNum(h.final) ||
      !Array.isArray(h.objective) ||
      !h.objective.length ||
      !h.objective.every(isNum) ||
      (h.zero_point !== 'integer' && h.zero_point !== 'float')
    )
      return `${where}.hqq must have numeric iterations and final, a non-empty numeric objective and zero_point integer|float`;
  }
  if (l.adaround !== undefined) {
    const a = l.adaround as Obj;
    if (
      !isObj(a) ||
      !['flips', 'flip_fraction', 'loss_nearest', 'loss', 'iterations'].every((k) => isNum(a[k])) ||
      (a.base !== 'rtn' && a.base !== 'gptq')
    )
      return `${where}.adaround must have numeric flips, flip_fraction, loss_nearest, loss, iterations and base rtn|gptq`;
  }
  if (l.gptaq !== undefined) {
    const g = l.gptaq as Obj;
    if (!isObj(g) || !isNum(g.alpha) || !isNum(g.cross_ratio)) return `${where}.gptaq must have numeric alpha and cross_ratio`;
  }
  if (l.sensitivity !== undefined) {
    const s = l.sensitivity as Obj;
    if (!isObj(s) || !isNum(s.proxy) || !optNum(s.kl)) return `${where}.sensitivity must be {proxy, kl?}`;
  }
  return null;
}

/** Validates `report.rotation`; returns an error naming the field, or null. */
function checkRotation(x: unknown): string | null {
  if (!isObj(x)) return 'report.rotation must be an object';
  if (!isNum(x.size) || !isNum(x.seed) || !isStr(x.construction) || !isStr(x.embedding))
    return 'report.rotation must have numeric size and seed, and construction and embedding strings';
  if (!Array.isArray(x.norms) || !x.norms.every(isStr)) return 'report.rotation.norms must be strings';
  if (!Array.isArray(x.layers)) return 'report.rotation.layers must be an array';
  for (let i = 0; i < x.layers.length; i++) {
    const l = x.layers[i] as Obj;
    if (
      !isObj(l) ||
      !isStr(l.name) ||
      (l.side !== 'reads' && l.side !== 'writes') ||
      !['kurtosis_before', 'kurtosis_after', 'peak_before', 'peak_after'].every((k) => isNum(l[k]))
    )
      return `report.rotation.layers[${i}] must have a name, side reads|writes and numeric kurtosis_before/after, peak_before/after`;
  }
  if (x.online !== undefined) {
    if (!Array.isArray(x.online) || !x.online.every((o: unknown) => isObj(o) && isStr(o.layer) && isNum(o.size) && isStr(o.construction)))
      return 'report.rotation.online must be [{layer, size, construction}]';
  }
  if (x.untied !== undefined) {
    const u = x.untied as Obj;
    if (!isObj(u) || !isStr(u.embedding) || !isStr(u.head) || !isNum(u.bytes))
      return 'report.rotation.untied must be {embedding, head, bytes}';
  }
  if (x.tables !== undefined && !(Array.isArray(x.tables) && x.tables.every(isStr))) return 'report.rotation.tables must be strings';
  if (x.layer_norm !== undefined) {
    const n = x.layer_norm as Obj;
    if (!isObj(n) || !['rewritten', 'centred', 'new_biases'].every((k) => Array.isArray(n[k]) && (n[k] as unknown[]).every(isStr)))
      return 'report.rotation.layer_norm must be {rewritten, centred, new_biases} (lists of names)';
  }
  return null;
}

/** Validates a report document (version 1); returns an error message or null. */
export function checkReport(r: unknown): string | null {
  if (!isObj(r)) return 'report is not an object';
  if (r.version !== REPORT_VERSION_READ)
    return `unsupported report version ${String(r.version)} (expected ${REPORT_VERSION_READ}; the host upgrades older reports with upgradeReport)`;
  if (!isStr(r.model) || !isStr(r.output)) return 'report.model and report.output must be strings';
  const m = r.metrics as Obj;
  if (!isObj(m) || !isObj(m.fp) || !isObj(m.quantized)) return 'report.metrics must have fp and quantized';
  const s = r.size as Obj;
  if (!isObj(s) || !isNum(s.fp_bytes) || !isNum(s.quantized_bytes) || !isNum(s.bits_per_weight))
    return 'report.size must have fp_bytes, quantized_bytes, bits_per_weight';
  if (r.accuracy_level !== undefined && !isNum(r.accuracy_level)) return 'report.accuracy_level must be a number';
  const d = m.decode_latency as Obj | undefined;
  if (d !== undefined) {
    const t = (x: unknown) => isObj(x) && isNum(x.prefill_ms) && isNum(x.decode_ms_per_token);
    if (!isObj(d) || !isStr(d.mode) || !isNum(d.prompt_tokens) || !t(d.fp) || !t(d.quantized))
      return 'report.metrics.decode_latency must have mode, prompt_tokens and fp/quantized {prefill_ms, decode_ms_per_token}';
  }
  const g = m.generation as Obj | undefined;
  if (g !== undefined) {
    const side = (x: unknown) => isObj(x) && isStr(x.text) && Array.isArray(x.ids) && x.ids.every(isNum);
    if (
      !isObj(g) ||
      !isStr(g.prompt) ||
      !isNum(g.tokens) ||
      !isStr(g.mode) ||
      !side(g.fp) ||
      !side(g.quantized) ||
      !(g.first_divergence === null || isNum(g.first_divergence))
    )
      return 'report.metrics.generation must have prompt, tokens, mode, fp/quantized {text, ids} and first_divergence (a number or null)';
  }
  if (r.rotation !== undefined) {
    const e = checkRotation(r.rotation);
    if (e) return e;
  }
  if (!Array.isArray(r.layers)) return 'report.layers must be an array';
  for (let i = 0; i < r.layers.length; i++) {
    const e = checkLayerReport(r.layers[i], i);
    if (e) return e;
  }
  return null;
}

function checkSensitivityLayers(x: unknown): string | null {
  if (!Array.isArray(x)) return 'layers must be an array';
  for (const [i, l] of x.entries()) {
    if (!isObj(l) || !isStr(l.name) || !isNum(l.proxy) || !optNum(l.kl)) return `layers[${i}] must be {name, proxy, kl?}`;
  }
  return null;
}

function checkPoint(p: unknown, where: string): string | null {
  if (!isObj(p) || !isStr(p.label) || !isNum(p.bitsPerWeight) || !isNum(p.loss) || typeof p.fits !== 'boolean')
    return `${where} must be {label, bitsPerWeight, loss, fits}`;
  return onlyKeys(p, ['label', 'bitsPerWeight', 'loss', 'fits']);
}

/** Validates a Pareto view; returns an error naming the bad field, or null. */
export function checkParetoView(v: unknown): string | null {
  if (!isObj(v)) return 'view is not an object';
  const keys = onlyKeys(v, ['budget', 'budgetBitsPerWeight', 'estimate', 'uniform', 'frontier', 'chosen', 'measured']);
  if (keys) return keys;
  if (!isStr(v.budget) || !isNum(v.budgetBitsPerWeight)) return 'budget must be a string and budgetBitsPerWeight a number';
  if (v.estimate !== 'kl' && v.estimate !== 'proxy') return 'estimate must be kl or proxy';
  for (const set of ['uniform', 'frontier'] as const) {
    const a = v[set];
    if (!Array.isArray(a) || a.length > 10000) return `${set} must be an array of points`;
    for (const [i, p] of a.entries()) {
      const e = checkPoint(p, `${set}[${i}]`);
      if (e) return e;
    }
  }
  const c = checkPoint(v.chosen, 'chosen');
  if (c) return c;
  if (v.measured !== undefined) {
    const m = v.measured;
    if (!isObj(m) || !isNum(m.bitsPerWeight) || !isNum(m.kl) || !optNum(m.perplexity))
      return 'measured must be {bitsPerWeight, kl, perplexity?}';
  }
  return null;
}

/** Parses a host → webview message; returns it typed, or an error string. */
export function parseToWebview(x: unknown): ToWebview | string {
  if (!isObj(x) || !isStr(x.type)) return 'message without a type';
  let err: string | null;
  switch (x.type) {
    case 'report':
      err = onlyKeys(x, ['type', 'report', 'reportPath', 'history']) ?? checkReport(x.report);
      if (!err && !isStr(x.reportPath)) err = 'reportPath must be a string';
      if (!err && (!Array.isArray(x.history) || !x.history.every((h) => isObj(h) && isStr(h.path) && isStr(h.label))))
        err = 'history must be [{path, label}]';
      break;
    case 'compare':
      err = onlyKeys(x, ['type', 'report', 'reportPath']) ?? checkReport(x.report);
      if (!err && !isStr(x.reportPath)) err = 'reportPath must be a string';
      break;
    case 'sensitivity':
      err = onlyKeys(x, ['type', 'layers', 'done']) ?? checkSensitivityLayers(x.layers);
      if (!err && typeof x.done !== 'boolean') err = 'done must be a boolean';
      break;
    case 'mixedPrecision':
      err = onlyKeys(x, ['type', 'chosen']) ?? (Array.isArray(x.chosen) && x.chosen.every(isStr) ? null : 'chosen must be strings');
      break;
    case 'pareto':
      err = onlyKeys(x, ['type', 'view']) ?? checkParetoView(x.view);
      break;
    case 'error':
      err = onlyKeys(x, ['type', 'message']) ?? (isStr(x.message) ? null : 'message must be a string');
      break;
    default:
      return `unknown message type '${x.type}'`;
  }
  return err ? `bad '${x.type}' message: ${err}` : (x as unknown as ToWebview);
}

/** Parses a webview → host message; returns it typed, or an error string. */
export function parseFromWebview(x: unknown): FromWebview | string {
  if (!isObj(x) || !isStr(x.type)) return 'message without a type';
  let err: string | null;
  switch (x.type) {
    case 'ready':
    case 'runSensitivity':
    case 'suggestBudget':
      err = onlyKeys(x, ['type']);
      break;
    case 'revealLayer':
      err =
        onlyKeys(x, ['type', 'layer']) ??
        (isStr(x.layer) && x.layer.length > 0 && x.layer.length < 1024 ? null : 'layer must be a non-empty string');
      break;
    case 'compare':
      err = onlyKeys(x, ['type', 'path']) ?? (isStr(x.path) && x.path.endsWith('.json') ? null : 'path must name a .json report');
      break;
    case 'applyMixedPrecision':
      err = onlyKeys(x, ['type', 'highBits', 'budgetFraction']);
      if (!err && !(isNum(x.highBits) && Number.isInteger(x.highBits) && x.highBits >= 2 && x.highBits <= 16))
        err = 'highBits must be an integer in [2, 16]';
      if (!err && !(isNum(x.budgetFraction) && x.budgetFraction > 0 && x.budgetFraction <= 1)) err = 'budgetFraction must be in (0, 1]';
      break;
    case 'previewPoint':
      err = onlyKeys(x, ['type', 'set', 'index']);
      if (!err && !['uniform', 'frontier', 'chosen'].includes(x.set as string)) err = 'set must be uniform, frontier or chosen';
      if (!err && !(isNum(x.index) && Number.isInteger(x.index) && x.index >= 0)) err = 'index must be an integer ≥ 0';
      break;
    default:
      return `unknown message type '${x.type}'`;
  }
  return err ? `bad '${x.type}' message: ${err}` : (x as unknown as FromWebview);
}

/** Layers of a report sorted by a numeric key, descending (ties by name). */
export function sortLayers<T extends LayerReport>(layers: T[], key: (l: T) => number): T[] {
  return [...layers].sort((a, b) => key(b) - key(a) || a.name.localeCompare(b.name));
}
