/**
 * Hessian saliency panel: for binarized layers the heatmap of `binarization.saliency`, column profile and
 * salient columns; for pruned layers the Hessian saliency w²·H_jj next to the kept/pruned mask.
 */
import type { Report, LayerReport } from '../../../protocol/report';
import { registerToolkit, dropdown, badge, button } from '../ui/toolkit';
import { post, loadState, saveState } from '../ui/vscodeApi';
import { startPanel } from '../ui/panel';
import { drawChart } from '../ui/chart';
import { renderHeatmap } from '../ui/heatmap';
import { el, fmt } from '../ui/format';
import { chartColors } from '../ui/theme';

interface State {
  report?: Report;
  layer?: string;
}
let state = loadState<State>({});

registerToolkit();
const root = document.getElementById('app') ?? document.body;

/** The layer picker and the reveal button. */
function toolbar(layers: LayerReport[], cur: LayerReport): HTMLElement {
  const bar = el('div', 'toolbar');
  bar.append(
    el('label', undefined, 'Layer: '),
    dropdown(
      'layer',
      layers.map((l) => ({ value: l.name, label: `${l.name} [${l.shape.join('×')}]` })),
      cur.name,
      (v) => {
        state.layer = v;
        saveState(state);
        render();
      },
    ),
    button('reveal', 'Reveal rule', () => post({ type: 'revealLayer', layer: cur.name }), 'secondary'),
  );
  return bar;
}

/** A pruned layer: the Hessian saliency and the kept/pruned mask, side by side on the same grid. */
function renderSparse(layers: LayerReport[], cur: LayerReport & Required<Pick<LayerReport, 'sparsity'>>): void {
  const s = cur.sparsity;
  const header = el('header');
  header.append(
    el('h1', undefined, 'Hessian saliency'),
    badge(cur.method),
    badge(`sparsity ${s.pattern}: ${fmt(100 * s.pruned, 1)}% pruned`),
  );
  const sal = el('section');
  sal.id = 'heatmap';
  const mask = el('section');
  mask.id = 'mask';
  const pair = el('div', 'pair');
  const left = el('div'),
    right = el('div');
  left.append(el('h2', undefined, `Saliency w²·H_jj (${s.saliency.rows}×${s.saliency.cols}, downsampled)`), sal);
  right.append(el('h2', undefined, 'Kept fraction (1 = kept, 0 = pruned)'), mask);
  pair.append(left, right);
  root.replaceChildren(header, toolbar(layers, cur), pair);
  renderHeatmap(sal, s.saliency.rows, s.saliency.cols, s.saliency.values);
  renderHeatmap(mask, s.mask.rows, s.mask.cols, s.mask.values, { id: 'mask', label: 'kept-fraction map' });
}

function render(): void {
  const layers = (state.report?.layers ?? []).filter((l) => !!l.binarization || !!l.sparsity);
  if (!layers.length) {
    root.replaceChildren(
      el('h1', undefined, 'Hessian saliency'),
      el(
        'p',
        'empty',
        'No binarized or pruned layers in this report (methods billm, pbllm, dualbin, sparsegpt, wanda, magnitude, jsq, and smoothquant / awq with a sparsity, produce saliency maps).',
      ),
    );
    return;
  }
  const cur = layers.find((l) => l.name === state.layer) ?? layers[0];
  if (!cur.binarization) return renderSparse(layers, cur as LayerReport & Required<Pick<LayerReport, 'sparsity'>>);
  const b = cur.binarization;
  const header = el('header');
  header.append(
    el('h1', undefined, 'Hessian saliency'),
    badge(cur.method),
    badge(`${fmt(b.bits_stored, 2)} bits stored / ${fmt(b.bits_claimed, 2)} claimed`),
  );
  const bar = toolbar(layers, cur);
  const map = el('section');
  map.id = 'heatmap';
  const box = el('div', 'chart small');
  const canvas = el('canvas');
  canvas.id = 'profile-chart';
  box.appendChild(canvas);
  const salient = el('p', 'salient', `Salient columns (${b.salient_columns.length}): ${b.salient_columns.join(', ')}`);
  salient.id = 'salient';
  const splits = el('p', 'meta', `Split points: ${b.split_points.map((x) => fmt(x, 4)).join(', ') || '—'}`);
  root.replaceChildren(
    header,
    bar,
    el('h2', undefined, `Saliency map (${b.saliency.rows}×${b.saliency.cols}, downsampled)`),
    map,
    el('h2', undefined, 'Column profile'),
    box,
    salient,
    splits,
  );
  renderHeatmap(map, b.saliency.rows, b.saliency.cols, b.saliency.values);
  const c = chartColors();
  const salientSet = new Set(b.salient_columns);
  drawChart(
    canvas,
    b.column_profile.map((_, i) => String(i)),
    [
      { label: 'column saliency', values: b.column_profile, color: c.primary },
      { label: 'salient', values: b.column_profile.map((v, i) => (salientSet.has(i) ? v : null)), color: c.highlight },
    ],
    { yTitle: 'saliency' },
  );
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
