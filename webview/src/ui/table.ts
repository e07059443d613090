/** A plain, sortable, accessible HTML table (click a header to sort; click again to reverse). */
import { el } from './format';

export interface Column<T> {
  key: string;
  title: string;
  value: (row: T) => number | string;
  format?: (row: T) => string;
  numeric?: boolean;
}

export interface SortState {
  key: string;
  desc: boolean;
}

/**
 * Renders `rows` into `host` sorted by `sort`; `onSort` receives the new sort state,
 * `onRowClick` the clicked row. Each row carries data-layer=<name> for tests and navigation.
 */
export function renderTable<T extends { name: string }>(
  host: HTMLElement,
  columns: Column<T>[],
  rows: T[],
  sort: SortState,
  onSort: (s: SortState) => void,
  onRowClick?: (row: T) => void,
): void {
  const col = columns.find((c) => c.key === sort.key) ?? columns[0];
  const sorted = [...rows].sort((a, b) => {
    const x = col.value(a),
      y = col.value(b);
    const d = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return sort.desc ? -d : d;
  });
  const table = el('table', 'layers');
  const head = table.createTHead().insertRow();
  for (const c of columns) {
    const th = el('th', c.numeric ? 'num' : undefined, c.title);
    th.dataset.key = c.key;
    th.tabIndex = 0;
    th.setAttribute('aria-sort', c.key === col.key ? (sort.desc ? 'descending' : 'ascending') : 'none');
    if (c.key === col.key) th.textContent += sort.desc ? ' ▼' : ' ▲';
    const go = () => onSort({ key: c.key, desc: c.key === col.key ? !sort.desc : true });
    th.addEventListener('click', go);
    th.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') go();
    });
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const r of sorted) {
    const tr = body.insertRow();
    tr.dataset.layer = r.name;
    if (onRowClick) {
      tr.classList.add('clickable');
      tr.title = 'Reveal the recipe rule for this layer';
      tr.addEventListener('click', () => onRowClick(r));
    }
    for (const c of columns) {
      const td = tr.insertCell();
      td.dataset.key = c.key;
      if (c.numeric) td.className = 'num';
      td.textContent = c.format ? c.format(r) : String(c.value(r));
    }
  }
  host.replaceChildren(table);
}
