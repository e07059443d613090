/** A chart.js scatter of (x, y) point sets (the Pareto panel), bundled locally; theme-aware. */
import {
  Chart,
  ScatterController,
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
} from 'chart.js';
import { chartColors, isHighContrast } from './theme';

Chart.register(ScatterController, LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Legend);

export interface PointSet {
  label: string;
  points: { x: number; y: number }[];
  color?: string;
  line?: boolean;
  radius?: number;
  style?: 'circle' | 'rect' | 'triangle' | 'star' | 'crossRot';
}

/** A drawn point: its set and index, and where its centre is on the canvas (CSS pixels). */
export interface DrawnPoint {
  set: number;
  index: number;
  x: number;
  y: number;
}

/**
 * Draws (or redraws) the scatter. `onClick(hits)` gets the points under a click, the one drawn on top
 * first (later sets are drawn over earlier ones). After every render the canvas's `data-points`
 * attribute lists where each point is drawn (JSON DrawnPoint[]), so a test can click a point.
 */
export function drawScatter(
  canvas: HTMLCanvasElement,
  sets: PointSet[],
  opts: { xTitle: string; yTitle: string; log?: boolean; xLine?: number; onClick?: (hits: { set: number; index: number }[]) => void },
): Chart {
  Chart.getChart(canvas)?.destroy();
  const c = chartColors();
  const palette = [c.secondary, c.primary, c.highlight, c.ok];
  return new Chart(canvas, {
    type: 'scatter',
    data: {
      datasets: sets.map((s, i) => ({
        label: s.label,
        data: s.points,
        showLine: s.line ?? false,
        backgroundColor: s.color ?? palette[i % palette.length],
        borderColor: s.color ?? palette[i % palette.length],
        borderWidth: isHighContrast() ? 2 : 1,
        pointRadius: s.radius ?? 4,
        pointStyle: s.style ?? 'circle',
        pointHoverRadius: (s.radius ?? 4) + 2,
      })) as never,
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      color: c.fg,
      onClick: (_e, els) => {
        const hits = els.map((e) => ({ set: e.datasetIndex, index: e.index })).sort((a, b) => b.set - a.set || a.index - b.index);
        if (hits.length && opts.onClick) opts.onClick(hits);
      },
      scales: {
        x: { type: 'linear', title: { display: true, text: opts.xTitle, color: c.fg }, ticks: { color: c.fg }, grid: { color: c.grid } },
        y: {
          type: opts.log ? 'logarithmic' : 'linear',
          title: { display: true, text: opts.yTitle, color: c.fg },
          ticks: { color: c.fg },
          grid: { color: c.grid },
        },
      },
      plugins: { legend: { labels: { color: c.fg } } },
    },
    plugins: [
      {
        id: 'drawnPoints',
        afterRender: (chart) => {
          const drawn: DrawnPoint[] = [];
          chart.data.datasets.forEach((_, set) => {
            if (!chart.isDatasetVisible(set)) return;
            chart.getDatasetMeta(set).data.forEach((p, index) => drawn.push({ set, index, x: p.x, y: p.y }));
          });
          canvas.dataset.points = JSON.stringify(drawn);
        },
      },
    ],
  });
}
