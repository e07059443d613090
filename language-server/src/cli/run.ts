/**
 * `lowbit run <recipe> [--json]`: check the recipe, run the job, print the FP-vs-quantized and
 * per-layer tables (or the report JSON with --json). Progress goes to stderr, one line per layer.
 * Ctrl-C (SIGINT) or SIGTERM cancels the job: what was there before stays, exit 130 (143 on SIGTERM).
 * Recipe and model text is printed with control characters escaped.
 */
import { generationTable, layerTable, summaryTable } from '../engine/report/formatTables';
import type { JobProgress } from '../protocol/plan';
import { loadRecipePlan } from '../recipe/load';
import { modelHost } from '../services/modelSource';
import { printable, printableLines } from './printable';

const USAGE = 'usage: lowbit run <recipe.lowbit.yaml> [--json]';

function progressLine(p: JobProgress): string | undefined {
  if (p.stage === 'quantize') return p.fraction === 1 ? `[${p.index + 1}/${p.total}] ${p.message}` : undefined;
  if (p.fraction !== undefined && p.fraction > 0 && p.fraction < 1) return undefined;
  return `${p.stage}: ${p.message}`;
}

/** Exit codes: 0 ok, 1 recipe errors or a failed job, 2 usage, 130 cancelled by SIGINT, 143 by SIGTERM. */
export async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const { plan, diagnostics } = await loadRecipePlan(rest[0], modelHost);
  for (const d of diagnostics) process.stderr.write(`${printable(d.file)}:${d.line}:${d.column}: ${d.severity}: ${printable(d.message)}\n`);
  if (!plan) {
    if (!diagnostics.some((d) => d.severity === 'error')) process.stderr.write(`${printable(rest[0])}: the recipe did not resolve to a plan\n`);
    return 1;
  }
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
      onProgress: (p) => { const line = progressLine(p); if (line) process.stderr.write(printable(line) + '\n'); },
    });
    if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      const gen = generationTable(report);
      process.stdout.write(printableLines(`${summaryTable(report)}\n\n${gen ? `${gen}\n\n` : ''}${layerTable(report)}`) + '\n');
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
