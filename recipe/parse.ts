/**
 * YAML → a small tree with exact source offsets, bounded against hostile input.
 * Tolerant: a half-typed document still yields every node that parsed, plus syntax diagnostics.
 */
import { parseDocument, isMap, isSeq, isScalar, isAlias, isPair } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { parseRecipeSubset } from './fastYaml';

export type { Span, RNode, REntry } from './yamlTree';
import type { Span, RNode, REntry } from './yamlTree';

export type Severity = 'error' | 'warning' | 'information' | 'hint';

/** A problem found in the recipe text, as offsets; `code` and `data` drive quick fixes. */
export interface RecipeDiagnostic {
  span: Span;
  severity: Severity;
  message: string;
  code?: string;
  data?: Record<string, unknown>;
}

export interface ParsedYaml {
  text: string;
  root: RNode | null;
  diagnostics: RecipeDiagnostic[];
}

/** Limits that keep a hostile document cheap. */
export const PARSE_LIMITS = { maxBytes: 2_000_000, maxDepth: 64, maxAliases: 100, maxNodes: 200_000 };

/** Quick scan for flow-collection nesting deeper than the limit (before the YAML parser recurses). */
function flowDepthExceeded(text: string, limit: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) {
      if (++depth > limit) return i;
    } else if ((c === 93 || c === 125) && depth > 0) depth--;
    else if (c === 10) depth = Math.min(depth, limit); // keep going; unbalanced lines are caught by YAML
  }
  return -1;
}

/**
 * Parse recipe text into a span tree plus syntax diagnostics. Never throws. Text in the recipe subset
 * of YAML takes fastYaml's linear path (the same tree); `fast: false` forces the `yaml` package.
 */
export function parseYaml(text: string, opts: { fast?: boolean } = {}): ParsedYaml {
  const diagnostics: RecipeDiagnostic[] = [];
  if (text.length > PARSE_LIMITS.maxBytes) {
    return {
      text,
      root: null,
      diagnostics: [
        {
          span: { start: 0, end: 0 },
          severity: 'error',
          message: `Recipe is too large (${text.length} characters; the limit is ${PARSE_LIMITS.maxBytes}).`,
          code: 'too-large',
        },
      ],
    };
  }
  const deep = flowDepthExceeded(text, PARSE_LIMITS.maxDepth);
  if (deep >= 0) {
    return {
      text,
      root: null,
      diagnostics: [
        {
          span: { start: deep, end: deep + 1 },
          severity: 'error',
          message: `Nesting deeper than ${PARSE_LIMITS.maxDepth} levels.`,
          code: 'too-deep',
        },
      ],
    };
  }
  if (opts.fast !== false) {
    const root = parseRecipeSubset(text, PARSE_LIMITS);
    if (root) return { text, root, diagnostics: [] };
  }
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, strict: false });
  } catch (e) {
    return { text, root: null, diagnostics: [{ span: { start: 0, end: 0 }, severity: 'error', message: `YAML: ${(e as Error).message}` }] };
  }
  for (const err of doc.errors)
    diagnostics.push({
      span: { start: err.pos[0], end: Math.max(err.pos[1], err.pos[0]) },
      severity: 'error',
      message: `YAML: ${firstLine(err.message)}`,
      code: 'yaml',
    });
  for (const w of doc.warnings)
    diagnostics.push({
      span: { start: w.pos[0], end: Math.max(w.pos[1], w.pos[0]) },
      severity: 'warning',
      message: `YAML: ${firstLine(w.message)}`,
      code: 'yaml',
    });
  const state = { aliases: 0, nodes: 0, stopped: false, text };
  let root: RNode | null = null;
  try {
    root = doc.contents ? convert(doc, doc.contents as YamlNode, 0, state, diagnostics) : null;
  } catch (e) {
    diagnostics.push({ span: { start: 0, end: 0 }, severity: 'error', message: `Recipe could not be read: ${(e as Error).message}` });
  }
  return { text, root, diagnostics };
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

/** Drop trailing whitespace from a span (block collections end after their last newline). */
function trimEnd(text: string, s: Span): Span {
  let end = s.end;
  while (end > s.start && /\s/.test(text[end - 1])) end--;
  return { start: s.start, end };
}

function spanOf(n: { range?: [number, number, number] | null }): Span {
  const r = n.range;
  return r ? { start: r[0], end: r[1] } : { start: 0, end: 0 };
}

function convert(
  doc: Document.Parsed,
  node: YamlNode,
  depth: number,
  state: { aliases: number; nodes: number; stopped: boolean; text: string },
  diags: RecipeDiagnostic[],
  aliasSpan?: Span,
): RNode | null {
  if (state.stopped) return null;
  if (++state.nodes > PARSE_LIMITS.maxNodes) {
    state.stopped = true;
    diags.push({
      span: aliasSpan ?? spanOf(node),
      severity: 'error',
      message: `Recipe has too many nodes (limit ${PARSE_LIMITS.maxNodes}).`,
      code: 'too-large',
    });
    return null;
  }
  if (depth > PARSE_LIMITS.maxDepth) {
    diags.push({
      span: spanOf(node),
      severity: 'error',
      message: `Nesting deeper than ${PARSE_LIMITS.maxDepth} levels.`,
      code: 'too-deep',
    });
    state.stopped = true;
    return null;
  }
  // Expanded aliases report the alias's own position so ranges stay inside the user's text.
  const span = aliasSpan ?? trimEnd(state.text, spanOf(node));
  if (isAlias(node)) {
    if (++state.aliases > PARSE_LIMITS.maxAliases) {
      diags.push({ span, severity: 'error', message: `Too many alias expansions (limit ${PARSE_LIMITS.maxAliases}).`, code: 'aliases' });
      state.stopped = true;
      return null;
    }
    let target: YamlNode | undefined;
    try {
      target = node.resolve(doc) as YamlNode | undefined;
    } catch {
      target = undefined;
    }
    if (!target) {
      diags.push({ span, severity: 'error', message: `Unknown alias *${node.source}.` });
      return null;
    }
    return convert(doc, target, depth + 1, state, diags, span);
  }
  if (isMap(node)) {
    const entries: REntry[] = [];
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const k = item.key as YamlNode | null;
      if (k && !isScalar(k)) {
        diags.push({ span: aliasSpan ?? spanOf(k as YamlNode), severity: 'error', message: 'Keys must be plain strings.' });
        continue;
      }
      const keySpan = aliasSpan ?? (k ? spanOf(k) : span);
      const key = k && isScalar(k) ? String(k.value ?? '') : '';
      const value = item.value ? convert(doc, item.value as YamlNode, depth + 1, state, diags, aliasSpan) : null;
      entries.push({
        key,
        keySpan,
        value,
        span: { start: keySpan.start, end: value ? Math.max(value.span.end, keySpan.end) : keySpan.end },
      });
    }
    return { kind: 'map', span, entries };
  }
  if (isSeq(node)) {
    const items: RNode[] = [];
    for (const item of node.items) {
      const c = item ? convert(doc, item as YamlNode, depth + 1, state, diags, aliasSpan) : null;
      if (c) items.push(c);
    }
    return { kind: 'seq', span, items };
  }
  if (isScalar(node)) {
    let v = node.value as unknown;
    if (typeof v === 'bigint') v = Number(v);
    const value = v === null || v === undefined ? null : typeof v === 'number' || typeof v === 'boolean' ? v : String(v);
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    return { kind: 'scalar', span, value, source: node.source ?? String(value), quoted };
  }
  return null;
}

/** The entry for `key` in a map node, if present (the last one wins, as in YAML tools). */
export function entryOf(node: RNode | null | undefined, key: string): REntry | undefined {
  if (!node || node.kind !== 'map') return undefined;
  for (let i = node.entries.length - 1; i >= 0; i--) if (node.entries[i].key === key) return node.entries[i];
  return undefined;
}
