/**
 * Report panel: FP vs compressed metrics, per-layer error chart and sortable table, and a
 * side-by-side comparison with another run from the report history.
 */
import type { Report, LayerReport } from '../../../protocol/report';
import type { HistoryEntry } from '../protocol';
import { registerToolkit, dropdown, badge } from '../ui/toolkit';
import { post, loadState, saveState } from '../ui/vscodeApi';
import { startPanel } from '../ui/panel';
import { drawChart } from '../ui/chart';
import { renderTable, type Column, type SortState } from '../ui/table';
import { el, fmt, pct, bytes } from '../ui/format';
import { renderInternals } from '../methodInternals';

interface State {
  report?: Report;
  reportPath?: string;
  history: HistoryEntry[];
  compare?: Report;
  comparePath?: string;
  sort: SortState;
}
let state = loadState<State>({ history: [], sort: { key: 'rel_error', desc: true } });

registerToolkit();
const root = document.getElementById('app') ?? document.body;

/** One metrics row: label, FP value, compressed value, optional comparison value. */
function metricRows(r: Report, cmp?: Report): [string, string, string, string?][] {
  const m = r.metrics,
    c = cmp?.metrics;
  const rows: [string, string, string, string?][] = [
    ['Perplexity', fmt(m.fp.perplexity), fmt(m.quantized.perplexity), c && fmt(c.quantized.perplexity)],
    ['KL divergence (mean)', '0', fmt(m.kl_divergence?.mean, 4), c && fmt(c.kl_divergence?.mean, 4)],
    ['KL divergence (p99)', '0', fmt(m.kl_divergence?.p99, 4), c && fmt(c.kl_divergence?.p99, 4)],
    ['Top-1 agreement', '100.0%', pct(m.top1_agreement), c && pct(c.top1_agreement)],
    ['Size', bytes(r.size.fp_bytes), bytes(r.size.quantized_bytes), cmp && bytes(cmp.size.quantized_bytes)],
    ['Bits / weight', '32', fmt(r.size.bits_per_weight, 2), cmp && fmt(cmp.size.bits_per_weight, 2)],
    ['Latency (ms / batch)', fmt(m.fp.latency_ms, 2), fmt(m.quantized.latency_ms, 2), c && fmt(c.quantized.latency_ms, 2)],
  ];
  if (m.output_agreement) rows.push(['Output cosine', '1.000', fmt(m.output_agreement.cosine, 4), c && fmt(c.output_agreement?.cosine, 4)]);
  const d = m.decode_latency,
    cd = c?.decode_latency;
  if (d) {
    rows.push([
      `Prefill (ms, ${d.prompt_tokens} tokens)`,
      fmt(d.fp.prefill_ms, 2),
      fmt(d.quantized.prefill_ms, 2),
      c && fmt(cd?.quantized.prefill_ms, 2),
    ]);
    rows.push([
      `Decode (ms / token, ${d.mode === 'kv_cache' ? 'KV cache' : 'full sequence'})`,
      fmt(d.fp.decode_ms_per_token, 3),
      fmt(d.quantized.decode_ms_per_token, 3),
      c && fmt(cd?.quantized.decode_ms_per_token, 3),
    ]);
  }
  return rows;
}

/** Greedy generation: FP and compressed text side by side, the first diverging token marked. */
function renderGeneration(r: Report): HTMLElement | undefined {
  const g = r.metrics.generation;
  if (!g) return undefined;
  const section = el('section', 'generation');
  section.id = 'generation';
  const at = g.first_divergence === null ? 'identical' : `first divergence at token ${g.first_divergence}`;
  section.append(
    el('h2', undefined, 'Generation'),
    el('p', 'meta', `${g.tokens} tokens from “${g.prompt}” (${g.mode === 'kv_cache' ? 'through the KV cache' : 'full-sequence'}) · ${at}`),
  );
  const t = el('table', 'generation');
  const h = t.createTHead().insertRow();
  for (const s of ['FP32', 'Compressed']) h.appendChild(el('th', undefined, s));
  const row = t.createTBody().insertRow();
  for (const [key, text] of [
    ['fp', g.fp.text],
    ['quantized', g.quantized.text],
  ] as const) {
    const td = row.insertCell();
    td.dataset.model = key;
    td.textContent = text;
  }
  section.append(t);
  return section;
}

function renderMetrics(host: HTMLElement, r: Report, cmp?: Report): void {
  const t = el('table', 'metrics');
  t.id = 'metrics';
  const h = t.createTHead().insertRow();
  for (const s of ['Metric', 'FP32', 'Compressed', ...(cmp ? ['Compared run'] : [])]) h.appendChild(el('th', undefined, s));
  const b = t.createTBody();
  for (const [label, fp, q, c] of metricRows(r, cmp)) {
    const tr = b.insertRow();
    tr.dataset.metric = label;
    for (const [i, v] of [label, fp, q, ...(cmp ? [c ?? '—'] : [])].entries()) {
      const td = tr.insertCell();
      td.textContent = v;
      if (i > 0) td.className = 'num';
    }
  }
  host.replaceChildren(t);
}

const columns: Column<LayerReport>[] = [
  { key: 'name', title: 'Layer', value: (l) => l.name },
  { key: 'rel_error', title: 'Rel. error', value: (l) => l.rel_error, format: (l) => fmt(l.rel_error, 5), numeric: true },
  { key: 'bits', title: 'Bits', value: (l) => l.bits, numeric: true },
  {
    key: 'bits_per_weight',
    title: 'Bits/weight',
    value: (l) => l.bits_per_weight,
    format: (l) => fmt(l.bits_per_weight, 2),
    numeric: true,
  },
  { key: 'method', title: 'Method', value: (l) => l.method },
  {
    key: 'rank',
    title: 'Rank',
    value: (l) => l.low_rank?.rank ?? 0,
    format: (l) => (l.low_rank ? String(l.low_rank.rank) : '—'),
    numeric: true,
  },
  { key: 'params', title: 'Params', value: (l) => l.params, numeric: true },
];

const STORAGE: Record<string, string> = { bitmap: 'bitmap', index: 'index codes', dense: 'dense zeros' };

/** Shown when a layer was pruned: the pruned fraction, the pattern asked and how the file stores the zeros. */
const sparsityColumn: Column<LayerReport> = {
  key: 'sparsity',
  title: 'Pruned',
  value: (l) => l.sparsity?.pruned ?? -1,
  format: (l) =>
    l.sparsity
      ? `${pct(l.sparsity.pruned)} (${l.sparsity.pattern}${l.sparsity.storage ? `, ${STORAGE[l.sparsity.storage] ?? l.sparsity.storage}` : ''})`
      : '—',
  numeric: true,
};

function render(): void {
  const r = state.report;
  if (!r) {
    root.replaceChildren(el('p', 'empty', 'No report yet: run “Lowbit: Compress and Evaluate”.'));
    return;
  }
  const header = el('header');
  header.append(el('h1', undefined, 'Compression report'), badge(r.format), badge(`${r.layers.length} layers`));
  if (r.accuracy_level !== undefined) header.append(badge(`accuracy_level ${r.accuracy_level}`));
  const meta = el('p', 'meta', `${r.model} → ${r.output} · ${r.created_at} · calibration ${r.calibration.kind} × ${r.calibration.samples}`);
  meta.id = 'meta';
  const compareBar = el('div', 'toolbar');
  if (state.history.length > 1) {
    compareBar.append(
      el('label', undefined, 'Compare with: '),
      dropdown(
        'compare',
        [
          { value: '', label: '(none)' },
          ...state.history.filter((h) => h.path !== state.reportPath).map((h) => ({ value: h.path, label: h.label })),
        ],
        state.comparePath,
        (v) => {
          if (v) post({ type: 'compare', path: v });
          else {
            state.compare = undefined;
            state.comparePath = undefined;
            saveState(state);
            render();
          }
        },
      ),
    );
  }
  const metrics = el('section');
  renderMetrics(metrics, r, state.compare);
  const chartBox = el('div', 'chart');
  const canvas = el('canvas');
  canvas.id = 'layer-chart';
  chartBox.appendChild(canvas);
  const table = el('section');
  table.id = 'layer-table';
  const warnings = el('ul', 'warnings');
  for (const w of r.warnings) warnings.appendChild(el('li', undefined, w));
  const generation = renderGeneration(r);
  const internals = renderInternals(r, (layer) => post({ type: 'revealLayer', layer }));
  root.replaceChildren(
    header,
    meta,
    compareBar,
    metrics,
    ...(generation ? [generation] : []),
    el('h2', undefined, 'Per-layer relative output error'),
    chartBox,
    table,
    ...(internals ? [internals.section] : []),
    warnings,
  );
  internals?.draw();
  const cmpByName = new Map(state.compare?.layers.map((l) => [l.name, l.rel_error]));
  drawChart(
    canvas,
    r.layers.map((l) => l.name),
    [
      { label: 'this run', values: r.layers.map((l) => l.rel_error) },
      ...(state.compare ? [{ label: 'compared run', values: r.layers.map((l) => cmpByName.get(l.name) ?? null) }] : []),
    ],
    {
      yTitle: 'tr(ΔHΔᵀ)/tr(WHWᵀ)',
      log: r.layers.every((l) => l.rel_error > 0),
      onClick: (i) => post({ type: 'revealLayer', layer: r.layers[i].name }),
    },
  );
  const drawTable = () =>
    renderTable(
      table,
      r.layers.some((l) => l.sparsity) ? [...columns.slice(0, -1), sparsityColumn, ...columns.slice(-1)] : columns,
      r.layers,
      state.sort,
      (s) => {
        state.sort = s;
        saveState(state);
        drawTable();
      },
      (l) => post({ type: 'revealLayer', layer: l.name }),
    );
  drawTable();
}

startPanel({
  handle: (msg) => {
    if (msg.type === 'report')
      state = {
        ...state,
        report: msg.report,
        reportPath: msg.reportPath,
        history: msg.history,
        compare: undefined,
        comparePath: undefined,
      };
    else if (msg.type === 'compare') {
      state.compare = msg.report;
      state.comparePath = msg.reportPath;
    } else return false;
    return true;
  },
  state: () => state,
  render,
});
