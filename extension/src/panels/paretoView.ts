/** A budget suggestion (and a later run's report) → what the Pareto panel draws; a clicked point → its rules. */
import type { SuggestResult } from '../../../protocol/budget';
import type { Report } from '../../../protocol/report';
import type { ParetoPick, ParetoView } from '../../../webview/src/protocol';

function budgetLabel(s: SuggestResult): string {
  const t = s.target;
  return `${t.kind === 'bits_per_weight' ? `${t.value} bits/weight` : t.kind === 'bytes' ? `${t.value} bytes` : `ratio ${t.value}`} as ${s.format}`;
}

/** The panel's view; `report` adds the measured point when it is a run after the suggestion of the same format. */
export function paretoView(s: SuggestResult, report?: Report): ParetoView {
  const pt = (p: { label?: string; bitsPerWeight: number; loss: number; fits?: boolean }, label: string) => ({
    label: p.label ?? label,
    bitsPerWeight: p.bitsPerWeight,
    loss: p.loss,
    fits: p.fits ?? true,
  });
  const view: ParetoView = {
    budget: budgetLabel(s),
    budgetBitsPerWeight: ((s.fileTarget - s.fixedBytes) * 8) / s.params,
    estimate: s.estimate,
    uniform: s.uniform.map((u) => pt(u, u.label)),
    frontier: s.frontier.map((f, i) => pt(f, `frontier ${i + 1}`)),
    chosen: pt(s.chosen, 'suggested'),
  };
  const kl = report?.metrics.kl_divergence?.mean;
  if (report && kl !== undefined && report.format === s.format && report.created_at > s.created_at) {
    // Bits per weight measured from the written file, as the planner counts them.
    view.measured = {
      bitsPerWeight: ((report.size.quantized_bytes - s.fixedBytes) * 8) / s.params,
      kl,
      perplexity: report.metrics.quantized.perplexity,
    };
  }
  return view;
}

/** The rules (and a summary line) of a clicked point. */
export function pointRules(s: SuggestResult, p: ParetoPick): { yaml: string; summary: string } {
  const budget = budgetLabel(s);
  if (p.set === 'chosen') return { yaml: s.yaml, summary: `${budget}: suggested, ${s.chosen.bitsPerWeight.toFixed(2)} bits/weight` };
  const point = p.set === 'uniform' ? s.uniform[p.index] : s.frontier[p.index];
  const yaml = point?.yaml;
  if (!point || !yaml) throw new Error(`No ${p.set} point ${p.index} in this suggestion.`);
  return {
    yaml,
    summary: `${budget}: ${'label' in point ? point.label : `frontier point ${p.index + 1}`}, ${point.bitsPerWeight.toFixed(2)} bits/weight`,
  };
}
