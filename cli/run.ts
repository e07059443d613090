/**
 * `lowbit run <recipe> [--json]`: check the recipe, run the job, print the FP-vs-quantized and
 * per-layer tables (or the report JSON with --json). Progress goes to stderr, one line per layer.
 * Ctrl-C (SIGINT) or SIGTERM cancels the job: what was there before stays, exit 130 (143 on SIGTERM).
 * Recipe and model text is printed with control characters escaped.
 */
import { generationTable, layerTable, leftAloneTable, summaryTable } from '../engine/report/formatTables';
import type { JobProgress } from '../protocol/plan';
import { loadRecipePlan } from '../recipe/load';
import { modelHost } from '../language-server/src/services/modelSource';
import { printable, printableLines } from './printable';

const USAGE = 'usage: lowbit run <recipe.lowbit.yaml> [--json] [--memory <size: 4GB, 512MB, MB if no unit>]';

function progressLine(p: JobProgress): string | undefined {
  // Streaming adds a line as each block starts (block i of N, its layers, ETA).
  if (p.stage === 'quantize')
    return p.fraction === 1 || (p.fraction === 0 && /^block \d+ of \d+:/.test(p.message))
      ? `[${p.index + 1}/${p.total}] ${p.message}`
      : undefined;
  // The memory plan (budget, whole model or streamed, and how).
  if (p.stage === 'calibrate' && p.message.startsWith('memory:')) return `${p.stage}: ${p.message}`;
  if (p.fraction !== undefined && p.fraction > 0 && p.fraction < 1) return undefined;
  return `${p.stage}: ${p.message}`;
}

/** `4GB`, `512MB`, `1.5GiB`, `4096` (MB) → bytes; undefined when not a positive size. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/i.exec(text.trim());
  if (!m) return undefined;
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  const bytes = Number(m[1]) * units[(m[2] ?? 'MB').toLowerCase()];
  return bytes >= 1 && Number.isFinite(bytes) ? Math.round(bytes) : undefined;
}

/** Exit codes: 0 ok, 1 recipe errors or a failed job, 2 usage, 130 cancelled by SIGINT, 143 by SIGTERM. */
export async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  let rest = args.filter((a) => a !== '--json');
  let memoryBytes: number | undefined;
  const m = rest.findIndex((a) => a === '--memory' || a.startsWith('--memory='));
  if (m >= 0) {
    const value = rest[m].includes('=') ? rest[m].slice('--memory='.length) : rest[m + 1];
    memoryBytes = parseSize(value ?? '');
    if (memoryBytes === undefined) {
      process.stderr.write(`lowbit run: --memory takes a size such as 4GB, 512MB or 4096 (MB), not '${value ?? ''}'\n${USAGE}\n`);
      return 2;
    }
    rest = rest.filter((_, i) => i !== m && !(i === m + 1 && !rest[m].includes('=')));
  }
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const { plan, diagnostics } = await loadRecipePlan(rest[0], modelHost);
  for (const d of diagnostics) process.stderr.write(`${printable(d.file)}:${d.line}:${d.column}: ${d.severity}: ${printable(d.message)}\n`);
  if (!plan) {
    if (!diagnostics.some((d) => d.severity === 'error'))
      process.stderr.write(`${printable(rest[0])}: the recipe did not resolve to a plan\n`);
    return 1;
  }
  if (memoryBytes !== undefined) plan.memory = { streaming: 'auto', ...plan.memory, budgetBytes: memoryBytes };
  const { runJob } = await import('../engine/job');
  const ac = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) return;
    signalled = sig;
    process.stderr.write(`${sig}: cancelling…\n`);
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await runJob(plan, {
      signal: ac.signal,
      onProgress: (p) => {
        const line = progressLine(p);
        if (line) process.stderr.write(printable(line) + '\n');
      },
    });
    if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      const gen = generationTable(report);
      const left = report.left_alone ? `\n\n${leftAloneTable(report.left_alone, 'this job')}` : '';
      process.stdout.write(printableLines(`${summaryTable(report)}\n\n${gen ? `${gen}\n\n` : ''}${layerTable(report)}${left}`) + '\n');
      for (const w of report.warnings) process.stdout.write(`warning: ${printable(w)}\n`);
      process.stdout.write(`\nwrote ${printable(report.output)}\nreport ${printable(plan.reportPath)}\n`);
    }
    return 0;
  } catch (e) {
    const err = e as Error;
    if (signalled || err.name === 'AbortError') {
      process.stderr.write('lowbit run: cancelled; the output and its report are as they were before\n');
      return signalled === 'SIGTERM' ? 143 : 130;
    }
    process.stderr.write(`lowbit run: ${printable(err.message)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
