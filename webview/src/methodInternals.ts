/**
 * The report panel's "Method internals" section: what each method did inside, from the report's
 * per-layer fields (protocol/report.ts) — the residual-stream rotation's kurtosis before/after, HQQ's
 * objective trace, AdaRound's rounding flips, GPTAQ's asymmetric cross term. Each block appears only
 * when the report holds its data.
 */
import type { Report, LayerReport, RotationReport } from '../../protocol/report';
import { drawChart } from './ui/chart';
import { renderTable, type Column, type SortState } from './ui/table';
import { el, fmt, pct, bytes } from './ui/format';

type RotationLayer = RotationReport['layers'][number];
type WithName<T> = T & { name: string };

/** A titled block with an optional chart canvas and a sortable table. */
function block<T extends { name: string }>(
  id: string,
  title: string,
  meta: string,
  columns: Column<T>[],
  rows: T[],
  sort: SortState,
  onRow: (row: T) => void,
): { section: HTMLElement; canvas: HTMLCanvasElement; caption: HTMLElement } {
  const section = el('section', 'internals-block');
  section.id = id;
  const caption = el('p', 'meta chart-caption');
  const chartBox = el('div', 'chart small');
  const canvas = el('canvas');
  canvas.id = `${id}-chart`;
  chartBox.appendChild(canvas);
  const table = el('div');
  table.id = `${id}-table`;
  section.append(el('h3', undefined, title), el('p', 'meta', meta), caption, chartBox, table);
  let state = sort;
  const draw = () =>
    renderTable(
      table,
      columns,
      rows,
      state,
      (s) => {
        state = s;
        draw();
      },
      onRow,
    );
  draw();
  return { section, canvas, caption };
}

function rotationBlock(rot: RotationReport, reveal: (layer: string) => void): { section: HTMLElement; draw: () => void } {
  const cols: Column<RotationLayer>[] = [
    { key: 'name', title: 'Layer', value: (l) => l.name },
    { key: 'side', title: 'Side', value: (l) => l.side },
    {
      key: 'kurtosis_before',
      title: 'Kurtosis before',
      value: (l) => l.kurtosis_before,
      format: (l) => fmt(l.kurtosis_before, 2),
      numeric: true,
    },
    {
      key: 'kurtosis_after',
      title: 'Kurtosis after',
      value: (l) => l.kurtosis_after,
      format: (l) => fmt(l.kurtosis_after, 2),
      numeric: true,
    },
    { key: 'peak_before', title: 'max|w|/rms before', value: (l) => l.peak_before, format: (l) => fmt(l.peak_before, 2), numeric: true },
    { key: 'peak_after', title: 'max|w|/rms after', value: (l) => l.peak_after, format: (l) => fmt(l.peak_after, 2), numeric: true },
  ];
  const untied = rot.untied ? ` · tied head ${rot.untied.head} untied from ${rot.untied.embedding} (+${bytes(rot.untied.bytes)})` : '';
  const online = rot.online?.length ? ` · online rotation before ${rot.online.map((o) => o.layer).join(', ')}` : '';
  const ln = rot.layer_norm
    ? ` · ${rot.layer_norm.rewritten.length} LayerNorm${rot.layer_norm.rewritten.length === 1 ? '' : 's'} rewritten as RMSNorm after centring the stream (${rot.layer_norm.centred.length} writers and tables centred${rot.layer_norm.new_biases.length ? `; new bias β·W on ${rot.layer_norm.new_biases.join(', ')}` : ''})`
    : '';
  const tables = rot.tables?.length ? ` · also ${rot.tables.join(', ')}` : '';
  const meta =
    `${rot.construction}, d = ${rot.size}, seed ${rot.seed} · embedding ${rot.embedding}${tables} · ` +
    `${rot.norms.length} norm scale${rot.norms.length === 1 ? '' : 's'} folded${ln}${online}${untied}`;
  const b = block('rotation', 'Rotation: weight outliers before and after', meta, cols, rot.layers, { key: 'name', desc: false }, (l) =>
    reveal(l.name),
  );
  b.caption.textContent = 'Kurtosis of each rotated weight (3 = Gaussian; large = outliers), before (norm scales folded) and after R.';
  const draw = () =>
    drawChart(
      b.canvas,
      rot.layers.map((l) => l.name),
      [
        { label: 'before', values: rot.layers.map((l) => l.kurtosis_before) },
        { label: 'after', values: rot.layers.map((l) => l.kurtosis_after) },
      ],
      { yTitle: 'kurtosis', onClick: (i) => reveal(rot.layers[i].name) },
    );
  return { section: b.section, draw };
}

function hqqBlock(layers: LayerReport[], reveal: (layer: string) => void): { section: HTMLElement; draw: () => void } {
  type Row = WithName<NonNullable<LayerReport['hqq']>>;
  const rows: Row[] = layers.map((l) => ({ name: l.name, ...l.hqq! }));
  const drop = (r: Row) => 1 - r.final / r.objective[0];
  const cols: Column<Row>[] = [
    { key: 'name', title: 'Layer', value: (r) => r.name },
    { key: 'iterations', title: 'Iterations', value: (r) => r.iterations, numeric: true },
    { key: 'start', title: 'mean|ΔW| start', value: (r) => r.objective[0], format: (r) => fmt(r.objective[0], 5), numeric: true },
    { key: 'final', title: 'mean|ΔW| final', value: (r) => r.final, format: (r) => fmt(r.final, 5), numeric: true },
    { key: 'drop', title: 'Reduction', value: drop, format: (r) => pct(drop(r)), numeric: true },
    { key: 'zero_point', title: 'Zero points', value: (r) => r.zero_point },
  ];
  let selected = rows[0];
  const select = (r: Row) => {
    selected = r;
    draw();
  };
  const b = block(
    'hqq',
    'HQQ: zero-point optimization',
    'Objective mean|W − Ŵ| at the start (RTN’s grid) and after each accepted iteration; it never increases. Click a row to plot that layer.',
    cols,
    rows,
    { key: 'name', desc: false },
    (r) => {
      select(r);
      reveal(r.name);
    },
  );
  const draw = () => {
    b.canvas.dataset.layer = selected.name;
    b.caption.textContent = `Objective trace of ${selected.name} (${selected.iterations} iterations, zero points ${selected.zero_point})`;
    drawChart(
      b.canvas,
      selected.objective.map((_, i) => String(i)),
      [{ label: selected.name, values: selected.objective, type: 'line' }],
      { yTitle: 'mean|W − Ŵ|', fitY: true },
    );
  };
  return { section: b.section, draw };
}

function adaroundBlock(layers: LayerReport[], reveal: (layer: string) => void): { section: HTMLElement; draw: () => void } {
  type Row = WithName<NonNullable<LayerReport['adaround']>>;
  const rows: Row[] = layers.map((l) => ({ name: l.name, ...l.adaround! }));
  const ratio = (r: Row) => (r.loss_nearest > 0 ? r.loss / r.loss_nearest : 1);
  const cols: Column<Row>[] = [
    { key: 'name', title: 'Layer', value: (r) => r.name },
    { key: 'base', title: 'Grid', value: (r) => r.base },
    { key: 'iterations', title: 'Steps', value: (r) => r.iterations, numeric: true },
    { key: 'flips', title: 'Flips', value: (r) => r.flips, numeric: true },
    { key: 'flip_fraction', title: 'Flipped', value: (r) => r.flip_fraction, format: (r) => pct(r.flip_fraction, 2), numeric: true },
    { key: 'loss_nearest', title: 'tr(ΔHΔᵀ) nearest', value: (r) => r.loss_nearest, format: (r) => fmt(r.loss_nearest, 4), numeric: true },
    { key: 'loss', title: 'tr(ΔHΔᵀ) learned', value: (r) => r.loss, format: (r) => fmt(r.loss, 4), numeric: true },
    { key: 'ratio', title: 'Learned / nearest', value: ratio, format: (r) => fmt(ratio(r), 3), numeric: true },
  ];
  const b = block(
    'adaround',
    'AdaRound: learned rounding',
    'Weights rounded the other way than to nearest on the same grid, and the output error of nearest vs learned rounding.',
    cols,
    rows,
    { key: 'name', desc: false },
    (r) => reveal(r.name),
  );
  b.caption.textContent = 'Share of each layer’s weights whose rounding AdaRound flipped.';
  const draw = () =>
    drawChart(
      b.canvas,
      rows.map((r) => r.name),
      [{ label: 'flipped (%)', values: rows.map((r) => 100 * r.flip_fraction) }],
      { yTitle: 'flipped weights (%)', onClick: (i) => reveal(rows[i].name) },
    );
  return { section: b.section, draw };
}

function gptaqBlock(layers: LayerReport[], reveal: (layer: string) => void): { section: HTMLElement; draw: () => void } {
  type Row = WithName<NonNullable<LayerReport['gptaq']>> & { loss?: number; damp?: number };
  const rows: Row[] = layers.map((l) => ({ name: l.name, ...l.gptaq!, loss: l.gptq?.loss, damp: l.gptq?.damp }));
  const cols: Column<Row>[] = [
    { key: 'name', title: 'Layer', value: (r) => r.name },
    { key: 'alpha', title: 'α', value: (r) => r.alpha, format: (r) => fmt(r.alpha, 2), numeric: true },
    { key: 'cross_ratio', title: '‖D‖/‖H‖', value: (r) => r.cross_ratio, format: (r) => fmt(r.cross_ratio, 4), numeric: true },
    { key: 'loss', title: 'GPTQ loss', value: (r) => r.loss ?? 0, format: (r) => fmt(r.loss, 5), numeric: true },
    { key: 'damp', title: 'Damp', value: (r) => r.damp ?? 0, format: (r) => fmt(r.damp, 3), numeric: true },
  ];
  const b = block(
    'gptaq',
    'GPTAQ: asymmetric calibration',
    'How far each layer’s quantized-prefix inputs drifted from the float ones: the cross term D = 2/N·Σ(x − x̃)x̃ᵀ relative to H (0 = plain GPTQ), and its weight α.',
    cols,
    rows,
    { key: 'name', desc: false },
    (r) => reveal(r.name),
  );
  b.caption.textContent = 'Input drift ‖D‖_F/‖H‖_F per layer (it grows with depth as quantization errors accumulate).';
  const draw = () =>
    drawChart(
      b.canvas,
      rows.map((r) => r.name),
      [{ label: '‖D‖/‖H‖', values: rows.map((r) => r.cross_ratio) }],
      { yTitle: '‖D‖_F / ‖H‖_F', onClick: (i) => reveal(rows[i].name) },
    );
  return { section: b.section, draw };
}

/**
 * Builds the section (undefined when the report has none of these internals). Call `draw` once the
 * section is in the document: the charts need their laid-out canvases.
 */
export function renderInternals(r: Report, reveal: (layer: string) => void): { section: HTMLElement; draw: () => void } | undefined {
  const parts: { section: HTMLElement; draw: () => void }[] = [];
  if (r.rotation) parts.push(rotationBlock(r.rotation, reveal));
  const hqq = r.layers.filter((l) => l.hqq);
  if (hqq.length) parts.push(hqqBlock(hqq, reveal));
  const ada = r.layers.filter((l) => l.adaround);
  if (ada.length) parts.push(adaroundBlock(ada, reveal));
  const gptaq = r.layers.filter((l) => l.gptaq);
  if (gptaq.length) parts.push(gptaqBlock(gptaq, reveal));
  if (!parts.length) return undefined;
  const section = el('section', 'internals');
  section.id = 'internals';
  section.append(el('h2', undefined, 'Method internals'), ...parts.map((p) => p.section));
  return { section, draw: () => parts.forEach((p) => p.draw()) };
}
