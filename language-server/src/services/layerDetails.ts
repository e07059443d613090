/**
 * One layer's effective settings, its size at those settings and the last run's numbers — the
 * content of a layer hover.
 */
import type { LayerInfo } from '../../../protocol/model';
import type { Report } from '../../../protocol/report';
import { effectiveLayers } from '../../../recipe/resolvePlan';
import type { EffectiveLayer } from '../../../recipe/resolvePlan';
import type { Recipe } from '../../../recipe/checkRecipe';

/** Bytes of one layer's weights stored at (bits, group size, symmetric), with fp16 scales and packed zero points. */
export function layerBytes(layer: LayerInfo, bits: number, groupSize: number, symmetric: boolean): number {
  const [out, inp] = layer.shape;
  const g = groupSize === -1 ? inp : groupSize;
  const groups = out * Math.ceil(inp / g);
  return Math.ceil((out * inp * bits) / 8) + groups * 2 + (symmetric ? 0 : Math.ceil((groups * bits) / 8));
}

const fmtBytes = (b: number) =>
  b >= 1 << 20 ? `${(b / (1 << 20)).toFixed(2)} MiB` : b >= 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${b} B`;

/** Markdown describing `name` in the context of `recipe`. */
export function layerMarkdown(recipe: Recipe, layers: readonly LayerInfo[], name: string, report?: Report): string | undefined {
  const layer = layers.find((l) => l.name === name);
  if (!layer) return undefined;
  const lines = [
    `**${layer.name}** — ${layer.op} \`[${layer.shape.join(' × ')}]\` (out × in), ${layer.params.toLocaleString('en-US')} params, ${layer.dtype}`,
  ];
  if (!layer.quantizable) {
    lines.push('', `Not quantizable: ${layer.reason ?? 'unsupported'}`);
    return lines.join('\n');
  }
  const e: EffectiveLayer | undefined = effectiveLayers(recipe, [layer])[0];
  if (e) {
    if (e.skip) lines.push('', `Skipped (kept in full precision) by rule ${e.rules.map((r) => r + 1).join(', ')}.`);
    else {
      const fp = layer.params * (layer.dtype === 'float16' ? 2 : 4);
      const q = layerBytes(layer, e.bits, e.groupSize, e.symmetric);
      lines.push(
        '',
        `Effective: **${e.method}**, ${e.bits} bit, group ${e.groupSize}, ${e.symmetric ? 'symmetric' : 'asymmetric'}${e.rules.length ? ` (rules ${e.rules.map((r) => r + 1).join(', ')})` : ' (defaults)'}`,
      );
      const st = Object.entries(e.settings);
      if (st.length) lines.push('', `Settings: ${st.map(([k, v]) => `\`${k}: ${JSON.stringify(v)}\``).join(', ')}`);
      lines.push('', `Size: ${fmtBytes(fp)} → ≈${fmtBytes(q)} (${((q * 8) / layer.params).toFixed(2)} bits/weight)`);
    }
  }
  const r = report?.layers.find((l) => l.name === name);
  if (r) {
    const parts = [`rel_error ${r.rel_error.toExponential(3)}`, `${r.bits_per_weight.toFixed(2)} bpw`];
    if (r.sensitivity)
      parts.push(
        `sensitivity ${r.sensitivity.proxy.toExponential(3)}${r.sensitivity.kl !== undefined ? ` (KL ${r.sensitivity.kl.toExponential(3)})` : ''}`,
      );
    if (r.low_rank) parts.push(`rank ${r.low_rank.rank}`);
    lines.push('', `Last run (${r.method}, ${r.bits} bit): ${parts.join(' · ')}`);
  }
  return lines.join('\n');
}
