/**
 * Layer sensitivity panel: the Hessian proxy at once, measured KL filling in as
 * `lowbit/sensitivityUpdate` arrives; sorted chart; "Give the most sensitive layers 8 bits".
 */
import type { LayerSensitivityView } from '../protocol';
import { registerToolkit, button, badge } from '../ui/toolkit';
import { post, loadState, saveState } from '../ui/vscodeApi';
import { startPanel } from '../ui/panel';
import { drawChart } from '../ui/chart';
import { renderTable, type Column, type SortState } from '../ui/table';
import { el, fmt } from '../ui/format';

interface State {
  layers: LayerSensitivityView[];
  done: boolean;
  chosen: string[];
  sort: SortState;
}
let state = loadState<State>({ layers: [], done: false, chosen: [], sort: { key: 'score', desc: true } });

registerToolkit();
const root = document.getElementById('app') ?? document.body;

/** The value a layer is ranked by: measured KL when known, else the proxy. */
const score = (l: LayerSensitivityView) => l.kl ?? l.proxy;

const columns: Column<LayerSensitivityView>[] = [
  { key: 'name', title: 'Layer', value: (l) => l.name },
  { key: 'proxy', title: 'Proxy', value: (l) => l.proxy, format: (l) => fmt(l.proxy, 5), numeric: true },
  { key: 'kl', title: 'Measured KL', value: (l) => l.kl ?? -1, format: (l) => fmt(l.kl, 5), numeric: true },
  { key: 'score', title: 'Rank by', value: score, format: (l) => (l.kl !== undefined ? 'KL' : 'proxy') },
];

function render(): void {
  const measured = state.layers.filter((l) => l.kl !== undefined).length;
  const header = el('header');
  const status = badge(!state.layers.length ? 'not measured' : state.done ? 'done' : `measuring ${measured}/${state.layers.length}`);
  status.id = 'status';
  header.append(el('h1', undefined, 'Layer sensitivity'), status);
  const bar = el('div', 'toolbar');
  bar.append(
    button('run', 'Measure sensitivity', () => post({ type: 'runSensitivity' }), 'secondary'),
    button('mixed', 'Give the most sensitive layers 8 bits', () =>
      post({ type: 'applyMixedPrecision', highBits: 8, budgetFraction: 0.25 }),
    ),
    button('suggest', 'Suggest rules for the budget', () => post({ type: 'suggestBudget' }), 'secondary'),
  );
  const chosen = el('p', 'chosen', state.chosen.length ? `Edited the recipe: 8 bits for ${state.chosen.join(', ')}` : '');
  chosen.id = 'chosen';
  if (!state.layers.length) {
    root.replaceChildren(header, bar, el('p', 'empty', 'No sensitivity yet: press “Measure sensitivity”.'), chosen);
    return;
  }
  const sorted = [...state.layers].sort((a, b) => score(b) - score(a) || a.name.localeCompare(b.name));
  const box = el('div', 'chart');
  const canvas = el('canvas');
  canvas.id = 'sensitivity-chart';
  box.appendChild(canvas);
  const table = el('section');
  table.id = 'layer-table';
  root.replaceChildren(header, bar, chosen, box, table);
  drawChart(
    canvas,
    sorted.map((l) => l.name),
    [
      { label: 'proxy (Hessian-weighted error)', values: sorted.map((l) => l.proxy) },
      { label: 'measured KL (only this layer quantized)', values: sorted.map((l) => l.kl ?? null) },
    ],
    { yTitle: 'sensitivity', log: sorted.every((l) => l.proxy > 0), onClick: (i) => post({ type: 'revealLayer', layer: sorted[i].name }) },
  );
  const draw = () =>
    renderTable(
      table,
      columns,
      state.layers,
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
    if (msg.type === 'report') {
      const layers = msg.report.layers
        .filter((l) => l.sensitivity)
        .map((l) => ({ name: l.name, proxy: l.sensitivity!.proxy, kl: l.sensitivity!.kl }));
      if (layers.length && !state.layers.length) state.layers = layers;
    } else if (msg.type === 'sensitivity') {
      // Merge: an update may carry only some layers; measured values never disappear.
      const byName = new Map(state.layers.map((l) => [l.name, l]));
      for (const l of msg.layers) byName.set(l.name, { ...byName.get(l.name), ...l, kl: l.kl ?? byName.get(l.name)?.kl });
      state.layers = [...byName.values()];
      state.done = msg.done;
    } else if (msg.type === 'mixedPrecision') state.chosen = msg.chosen;
    else return false;
    return true;
  },
  state: () => state,
  render,
});
