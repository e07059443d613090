/**
 * Memory trace for streamed jobs (issue 11): with `LOWBIT_MEMTRACE=1` in the environment, each call
 * prints one line to stderr: the process's RSS (anonymous / file-backed, from /proc/self/status where
 * there is one), V8's heap, external and array-buffer bytes, and the peak RSS so far. Without the
 * variable it does nothing (one environment lookup).
 */
import { readFileSync } from 'node:fs';

export function memTraceOn(): boolean {
  return process.env.LOWBIT_MEMTRACE === '1';
}

/** Prints `memtrace <where>: …` when LOWBIT_MEMTRACE=1. */
export function memTrace(where: string): void {
  if (!memTraceOn()) return;
  process.stderr.write(`memtrace ${where}: ${memoryLine()}\n`);
}

function memoryLine(): string {
  const gb = (b: number) => `${(b / 1e9).toFixed(3)}`;
  const m = process.memoryUsage();
  const peak = process.resourceUsage().maxRSS * 1024;
  return `rss ${gb(m.rss)}${procRss()} heap ${gb(m.heapUsed)} external ${gb(m.external)} arrayBuffers ${gb(m.arrayBuffers)} peak ${gb(peak)} GB`;
}

/** ` (anon X file Y)` from /proc/self/status, or '' where it cannot be read. */
function procRss(): string {
  try {
    const s = readFileSync('/proc/self/status', 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN) * 1024;
    return ` (anon ${(kb('RssAnon') / 1e9).toFixed(3)} file ${(kb('RssFile') / 1e9).toFixed(3)})`;
  } catch {
    return '';
  }
}
