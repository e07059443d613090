/**
 * Rule-level requests: the rule that governs a layer (for "reveal rule") and a mixed-precision edit
 * that appends a rule giving chosen layers more bits.
 */
import type { Range, WorkspaceEdit } from 'vscode-languageserver-types';
import type { LayerInfo } from '../../../protocol/model';
import { effectiveLayers } from '../../../recipe/resolvePlan';
import { layerBytes } from './layerDetails';
import { toRange } from './analysis';
import type { RecipeAnalysis } from './analysis';

/** The range of the last rule that touched `layer` (or of `defaults`/the document start when none did). */
export function ruleForLayer(a: RecipeAnalysis, layer: string): { range: Range; rule: number | null } | null {
  const l = a.layers?.find((x) => x.name === layer);
  if (!l) return null;
  const e = effectiveLayers(a.recipe, [l])[0];
  const last = e?.rules[e.rules.length - 1];
  if (last !== undefined) return { range: toRange(a.doc, a.recipe.rules[last].span), rule: last };
  const root = a.recipe.parsed.root;
  const def = root?.kind === 'map' ? root.entries.find((x) => x.key === 'defaults') : undefined;
  return { range: toRange(a.doc, def?.span ?? { start: 0, end: 0 }), rule: null };
}

/**
 * Choose the most sensitive layers (by KL when measured, else proxy) whose extra bytes at `highBits`
 * fit in `budgetFraction` of the current quantized size, and append one rule listing them.
 */
export function mixedPrecisionEdit(
  a: RecipeAnalysis,
  sens: { name: string; proxy: number; kl?: number }[],
  highBits: number,
  budgetFraction: number,
): { edit: WorkspaceEdit; chosen: string[] } {
  const layers = a.layers ?? [];
  const eff = new Map(
    effectiveLayers(a.recipe, layers)
      .filter((e) => !e.skip)
      .map((e) => [e.layer.name, e]),
  );
  const current = [...eff.values()].reduce((s, e) => s + layerBytes(e.layer, e.bits, e.groupSize, e.symmetric), 0);
  let budget = current * Math.max(0, budgetFraction);
  const ranked = [...sens].filter((s) => eff.has(s.name)).sort((x, y) => (y.kl ?? y.proxy) - (x.kl ?? x.proxy));
  const chosen: string[] = [];
  for (const s of ranked) {
    const e = eff.get(s.name)!;
    if (e.bits >= highBits) continue;
    const extra =
      layerBytes(e.layer as LayerInfo, highBits, e.groupSize, e.symmetric) - layerBytes(e.layer, e.bits, e.groupSize, e.symmetric);
    if (extra > budget) continue;
    budget -= extra;
    chosen.push(s.name);
  }
  if (!chosen.length) return { edit: { changes: {} }, chosen };
  const text = a.doc.getText();
  const esc = (n: string) => n.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
  const pattern = `re:${chosen.map(esc).join('|')}`;
  const ruleText = (indent: string) =>
    `${indent}- match: "${pattern.replace(/\\/g, '\\\\')}"  # mixed precision: ${chosen.length} most sensitive layers\n${indent}  bits: ${highBits}\n`;
  const rules = a.recipe.rules;
  let insertAt: number;
  let newText: string;
  if (rules.length) {
    const lastSpan = rules[rules.length - 1].span;
    const lineStart = text.lastIndexOf('\n', lastSpan.start - 1) + 1;
    const indent = text.slice(lineStart, lastSpan.start).replace(/-\s*$/, '').replace(/\S/g, ' ');
    const nl = text.indexOf('\n', Math.max(lastSpan.end - 1, lastSpan.start));
    insertAt = nl < 0 ? text.length : nl + 1;
    newText = (nl < 0 ? '\n' : '') + ruleText(indent);
  } else {
    insertAt = text.length;
    newText = `${text.endsWith('\n') || !text ? '' : '\n'}layers:\n${ruleText('  ')}`;
    if (a.recipe.rulesKey) return { edit: { changes: {} }, chosen: [] };
  }
  const pos = a.doc.positionAt(insertAt);
  return { edit: { changes: { [a.doc.uri]: [{ range: { start: pos, end: pos }, newText }] } }, chosen };
}
