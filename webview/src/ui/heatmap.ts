/** A canvas heatmap with a colour scale legend and hover read-out (for saliency maps). */
import { el, fmt } from './format';

/** Viridis-like ramp, t in [0, 1] → rgb string. */
export function ramp(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x)),
    f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Draws a rows×cols map (row-major values) into `host`; hovering shows "row r, col c: value". */
export function renderHeatmap(
  host: HTMLElement,
  rows: number,
  cols: number,
  values: number[],
  opts: { id?: string; label?: string } = {},
): void {
  const id = opts.id ?? 'heatmap',
    label = opts.label ?? 'saliency heatmap';
  let lo = Infinity,
    hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi > lo ? hi - lo : 1;
  const cell = Math.max(4, Math.min(10, Math.floor(640 / Math.max(rows, cols))));
  const canvas = el('canvas', 'heatmap');
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${label} ${rows}×${cols}, range ${fmt(lo)} to ${fmt(hi)}`);
  const g = canvas.getContext('2d');
  if (g)
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) {
        g.fillStyle = ramp((values[r * cols + c] - lo) / span);
        g.fillRect(c * cell, r * cell, cell, cell);
      }
  const hover = el('div', 'hover', 'Hover over the map to read values');
  hover.id = `${id}-hover`;
  canvas.addEventListener('mousemove', (e) => {
    const rect = canvas.getBoundingClientRect();
    const c = Math.floor(((e.clientX - rect.left) / rect.width) * cols),
      r = Math.floor(((e.clientY - rect.top) / rect.height) * rows);
    if (r >= 0 && r < rows && c >= 0 && c < cols) hover.textContent = `row ${r}, col ${c}: ${fmt(values[r * cols + c], 4)}`;
  });
  const legend = el('div', 'legend');
  const bar = el('canvas', 'legend-bar');
  bar.width = 200;
  bar.height = 10;
  const lg = bar.getContext('2d');
  if (lg)
    for (let x = 0; x < 200; x++) {
      lg.fillStyle = ramp(x / 199);
      lg.fillRect(x, 0, 1, 10);
    }
  legend.append(el('span', 'lo', fmt(lo, 4)), bar, el('span', 'hi', fmt(hi, 4)));
  legend.id = `${id}-legend`;
  host.replaceChildren(canvas, legend, hover);
}
