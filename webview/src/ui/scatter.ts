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

/** Draws (or redraws) the scatter; `onClick(set, index)` gets the clicked point. */
export function drawScatter(
  canvas: HTMLCanvasElement,
  sets: PointSet[],
  opts: { xTitle: string; yTitle: string; log?: boolean; xLine?: number; onClick?: (set: number, index: number) => void },
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
        if (els.length && opts.onClick) opts.onClick(els[0].datasetIndex, els[0].index);
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
  });
}
