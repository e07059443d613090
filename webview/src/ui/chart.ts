/** chart.js, bundled locally (no CDN), with only the pieces the panels use; theme-aware defaults. */
import {
  Chart,
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
} from 'chart.js';
import { chartColors, isHighContrast } from './theme';

Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
);

export interface Series {
  label: string;
  values: (number | null)[];
  color?: string;
  type?: 'bar' | 'line';
}

/** Draws (or redraws) a bar/line chart into `canvas`; returns the Chart so callers can destroy it. */
export function drawChart(
  canvas: HTMLCanvasElement,
  labels: string[],
  series: Series[],
  opts: {
    yTitle: string;
    log?: boolean;
    onClick?: (index: number) => void;
    /** Fit the y axis to the data instead of starting at 0 (traces). */ fitY?: boolean;
  },
): Chart {
  Chart.getChart(canvas)?.destroy();
  const c = chartColors();
  const palette = [c.primary, c.secondary, c.ok, c.highlight];
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels,
      datasets: series.map((s, i) => ({
        type: s.type ?? 'bar',
        label: s.label,
        data: s.values,
        backgroundColor: s.color ?? palette[i % palette.length],
        borderColor: s.color ?? palette[i % palette.length],
        borderWidth: isHighContrast() ? 2 : 1,
        pointRadius: 2,
      })) as never,
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      color: c.fg,
      onClick: (_e, els) => {
        if (els.length && opts.onClick) opts.onClick(els[0].index);
      },
      scales: {
        x: {
          ticks: { color: c.fg, autoSkip: labels.length > 40, maxRotation: 70, minRotation: 45, font: { size: 10 } },
          grid: { color: c.grid },
        },
        y: {
          type: opts.log ? 'logarithmic' : 'linear',
          ...(opts.fitY ? { beginAtZero: false, grace: '5%' } : {}),
          title: { display: true, text: opts.yTitle, color: c.fg },
          ticks: { color: c.fg },
          grid: { color: c.grid },
        },
      },
      plugins: { legend: { labels: { color: c.fg } } },
    },
  });
}
