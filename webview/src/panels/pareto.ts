/**
 * Pareto panel (budgeted mixed precision): estimated loss vs stored bits per weight for every uniform
 * candidate, the knapsack's frontier, the suggested point and — after a run — the measured point.
 * Clicking a point previews its rules as an edit to the recipe (the host asks before applying).
 */
import type { ParetoView, ParetoPick } from '../protocol';
import { registerToolkit, badge } from '../ui/toolkit';
import { post, loadState } from '../ui/vscodeApi';
import { startPanel } from '../ui/panel';
import { drawScatter, type PointSet } from '../ui/scatter';
import { renderTable, type Column, type SortState } from '../ui/table';
import { el, fmt } from '../ui/format';

interface State {
  view?: ParetoView;
  sort: SortState;
  picked?: ParetoPick;
}
let state = loadState<State>({ sort: { key: 'bits', desc: false } });

registerToolkit();
const root = document.getElementById('app') ?? document.body;

interface Row {
  name: string;
  bits: number;
  loss: number;
  fits: boolean;
  pick: ParetoPick;
}

const columns: Column<Row>[] = [
  { key: 'name', title: 'Configuration', value: (r) => r.name },
  { key: 'bits', title: 'Bits/weight stored', value: (r) => r.bits, format: (r) => r.bits.toFixed(2), numeric: true },
  { key: 'loss', title: 'Estimated loss', value: (r) => r.loss, format: (r) => fmt(r.loss, 5), numeric: true },
  { key: 'fits', title: 'Fits', value: (r) => (r.fits ? 1 : 0), format: (r) => (r.fits ? 'yes' : 'no') },
];

/** The point a pick names, as the chart and the table label it. */
function pickedPoint(v: ParetoView, p: ParetoPick): { label: string; bitsPerWeight: number } | undefined {
  if (p.set === 'chosen') return { label: 'suggested', bitsPerWeight: v.chosen.bitsPerWeight };
  const point = (p.set === 'uniform' ? v.uniform : v.frontier)[p.index];
  return point && { label: p.set === 'frontier' ? `frontier point ${p.index + 1}` : point.label, bitsPerWeight: point.bitsPerWeight };
}

/** Says which point's rules are being previewed (the host opens them as an edit to accept). */
function showPicked(): void {
  const line = document.getElementById('picked');
  const point = state.view && state.picked && pickedPoint(state.view, state.picked);
  if (line)
    line.textContent = point
      ? `Previewing the rules of ${point.label} (${point.bitsPerWeight.toFixed(2)} bits/weight) as an edit to the recipe.`
      : 'Click a point or a row to preview its rules as an edit to the recipe.';
}

const pick = (p: ParetoPick) => {
  state.picked = p;
  showPicked();
  post({ type: 'previewPoint', ...p });
};

function render(): void {
  const header = el('header');
  const v = state.view;
  const status = badge(!v ? 'no suggestion' : v.measured ? 'measured' : 'suggested');
  status.id = 'status';
  header.append(el('h1', undefined, 'Size / quality frontier'), status);
  if (!v) {
    root.replaceChildren(
      header,
      el('p', 'empty', 'No suggestion yet: add `budget:` to the recipe and run “Lowbit: Suggest Rules for the Budget”.'),
    );
    return;
  }
  const what = v.estimate === 'kl' ? 'KL (sum of single-layer KLs)' : 'Hessian-weighted error';
  const summary = el(
    'p',
    'summary',
    `${v.budget}: suggested ${v.chosen.bitsPerWeight.toFixed(2)} bits/weight, estimated ${what} ${fmt(v.chosen.loss, 4)}` +
      (v.measured
        ? `; measured ${v.measured.bitsPerWeight.toFixed(2)} bits/weight, KL ${fmt(v.measured.kl, 4)}${v.measured.perplexity !== undefined ? `, perplexity ${fmt(v.measured.perplexity, 4)}` : ''}`
        : ''),
  );
  summary.id = 'summary';
  const box = el('div', 'chart');
  const canvas = el('canvas');
  canvas.id = 'pareto-chart';
  box.appendChild(canvas);
  const table = el('section');
  table.id = 'point-table';
  const picked = el('p', 'meta');
  picked.id = 'picked';
  root.replaceChildren(header, summary, box, picked, table);
  showPicked();
  const xy = (p: { bitsPerWeight: number; loss: number }) => ({ x: p.bitsPerWeight, y: p.loss });
  const sets: PointSet[] = [
    { label: 'uniform candidates', points: v.uniform.map(xy), style: 'rect' },
    { label: 'best mix per size (knapsack frontier)', points: v.frontier.map(xy), line: true, radius: 2 },
    { label: 'suggested', points: [xy(v.chosen)], radius: 7, style: 'star' },
  ];
  const losses = [...v.uniform, ...v.frontier, v.chosen].map((p) => p.loss).filter((l) => l > 0);
  if (losses.length)
    sets.push({
      label: `budget (${v.budgetBitsPerWeight.toFixed(2)} bits/weight)`,
      points: [
        { x: v.budgetBitsPerWeight, y: Math.min(...losses) },
        { x: v.budgetBitsPerWeight, y: Math.max(...losses) },
      ],
      line: true,
      radius: 0,
      color: '#888888',
    });
  if (v.measured)
    sets.push({
      label: 'measured (held-out KL of the run)',
      points: [{ x: v.measured.bitsPerWeight, y: v.measured.kl }],
      radius: 7,
      style: 'triangle',
    });
  const setNames = ['uniform', 'frontier', 'chosen'] as const;
  drawScatter(canvas, sets, {
    xTitle: 'bits per weight (stored)',
    yTitle: `estimated loss: ${what}`,
    log: [...v.uniform, ...v.frontier, v.chosen].every((p) => p.loss > 0),
    // The topmost point that stands for a configuration (not the budget line or the measured point).
    onClick: (hits) => {
      const hit = hits.find((h) => h.set < setNames.length);
      if (hit) pick({ set: setNames[hit.set], index: hit.index });
    },
  });
  const rows: Row[] = [
    ...v.uniform.map((p, i) => ({
      name: p.label,
      bits: p.bitsPerWeight,
      loss: p.loss,
      fits: p.fits,
      pick: { set: 'uniform' as const, index: i },
    })),
    { name: 'suggested', bits: v.chosen.bitsPerWeight, loss: v.chosen.loss, fits: true, pick: { set: 'chosen' as const, index: 0 } },
  ];
  const draw = () =>
    renderTable(
      table,
      columns,
      rows,
      state.sort,
      (s) => {
        state.sort = s;
        draw();
      },
      (r) => pick(r.pick),
    );
  draw();
}

startPanel({
  handle: (msg) => {
    if (msg.type !== 'pareto') return false;
    // A new suggestion (not the same one with a run's measured point added) has other points.
    const prev = state.view?.chosen;
    if (!prev || prev.bitsPerWeight !== msg.view.chosen.bitsPerWeight || prev.loss !== msg.view.chosen.loss) state.picked = undefined;
    state.view = msg.view;
    return true;
  },
  state: () => state,
  render,
});
