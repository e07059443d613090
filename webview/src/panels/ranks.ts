/** Rank allocation panel: per-layer low-rank rank, storage overhead and error before/after. */
import type { Report, LayerReport } from '../../../protocol/report';
import { registerToolkit, badge } from '../ui/toolkit';
import { post, loadState, saveState } from '../ui/vscodeApi';
import { startPanel } from '../ui/panel';
import { drawChart } from '../ui/chart';
import { renderTable, type Column, type SortState } from '../ui/table';
import { el, fmt, pct } from '../ui/format';

type LR = LayerReport & Required<Pick<LayerReport, 'low_rank'>>;
interface State {
  report?: Report;
  sort: SortState;
}
let state = loadState<State>({ sort: { key: 'rank', desc: true } });

registerToolkit();
const root = document.getElementById('app') ?? document.body;

const columns: Column<LR>[] = [
  { key: 'name', title: 'Layer', value: (l) => l.name },
  { key: 'rank', title: 'Rank', value: (l) => l.low_rank.rank, numeric: true },
  {
    key: 'storage',
    title: 'Extra storage',
    value: (l) => l.low_rank.storage_overhead,
    format: (l) => pct(l.low_rank.storage_overhead),
    numeric: true,
  },
  {
    key: 'before',
    title: 'Error before',
    value: (l) => l.low_rank.rel_error_before,
    format: (l) => fmt(l.low_rank.rel_error_before, 5),
    numeric: true,
  },
  {
    key: 'after',
    title: 'Error after',
    value: (l) => l.low_rank.rel_error_after,
    format: (l) => fmt(l.low_rank.rel_error_after, 5),
    numeric: true,
  },
  {
    key: 'gain',
    title: 'Reduction',
    value: (l) => 1 - l.low_rank.rel_error_after / (l.low_rank.rel_error_before || 1),
    format: (l) => pct(1 - l.low_rank.rel_error_after / (l.low_rank.rel_error_before || 1)),
    numeric: true,
  },
];

function render(): void {
  const layers = (state.report?.layers ?? []).filter((l): l is LR => !!l.low_rank);
  if (!layers.length) {
    root.replaceChildren(
      el('h1', undefined, 'Rank allocation'),
      el('p', 'empty', 'No low-rank layers in this report (methods flrq, lorc, lqer allocate ranks).'),
    );
    return;
  }
  const total = layers.reduce((s, l) => s + l.low_rank.rank, 0);
  const header = el('header');
  header.append(el('h1', undefined, 'Rank allocation'), badge(`${layers.length} layers`), badge(`total rank ${total}`));
  const box = el('div', 'chart');
  const canvas = el('canvas');
  canvas.id = 'rank-chart';
  box.appendChild(canvas);
  const errBox = el('div', 'chart small');
  const errCanvas = el('canvas');
  errCanvas.id = 'error-chart';
  errBox.appendChild(errCanvas);
  const table = el('section');
  table.id = 'layer-table';
  root.replaceChildren(
    header,
    el('h2', undefined, 'Rank per layer'),
    box,
    el('h2', undefined, 'Relative error before / after the low-rank branch'),
    errBox,
    table,
  );
  const names = layers.map((l) => l.name);
  drawChart(canvas, names, [{ label: 'rank', values: layers.map((l) => l.low_rank.rank) }], {
    yTitle: 'rank',
    onClick: (i) => post({ type: 'revealLayer', layer: names[i] }),
  });
  drawChart(
    errCanvas,
    names,
    [
      { label: 'before', values: layers.map((l) => l.low_rank.rel_error_before) },
      { label: 'after', values: layers.map((l) => l.low_rank.rel_error_after) },
    ],
    { yTitle: 'relative error', log: layers.every((l) => l.low_rank.rel_error_after > 0) },
  );
  const draw = () =>
    renderTable(
      table,
      columns,
      layers,
      state.sort,
      (s) => {
        state.sort = s;
        saveState(state);
        draw();
      },
      (l) => post({ type: 'revealLayer', layer: l.name }),
    );
  draw();
}

startPanel({
  handle: (msg) => {
    if (msg.type !== 'report') return false;
    state.report = msg.report;
    return true;
  },
  state: () => state,
  render,
});
