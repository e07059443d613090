/**
 * `lowbit run <recipe> [--json]`: check the recipe, run the job, print the FP-vs-quantized and
 * per-layer tables (or the report JSON with --json). Progress goes to stderr, one line per layer.
 * Ctrl-C cancels the job (no output is left behind).
 */
import { layerTable, leftAloneTable, summaryTable } from '../engine/report/formatTables';
import type { JobProgress } from '../protocol/plan';
import { loadRecipePlan } from '../recipe/load';

const USAGE = 'usage: lowbit run <recipe.lowbit.yaml> [--json]';

function progressLine(p: JobProgress): string | undefined {
  if (p.stage === 'quantize') return p.fraction === 1 ? `[${p.index + 1}/${p.total}] ${p.message}` : undefined;
  if (p.fraction !== undefined && p.fraction > 0 && p.fraction < 1) return undefined;
  return `${p.stage}: ${p.message}`;
}

/** Exit codes: 0 ok, 1 recipe errors or a failed job, 2 usage. */
export async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const { plan, diagnostics } = await loadRecipePlan(rest[0]);
  for (const d of diagnostics) process.stderr.write(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}\n`);
  if (!plan) {
    if (!diagnostics.some((d) => d.severity === 'error')) process.stderr.write(`${rest[0]}: the recipe did not resolve to a plan\n`);
    return 1;
  }
  const { runJob } = await import('../engine/job');
  const ac = new AbortController();
  const onSigint = () => { process.stderr.write('cancelling…\n'); ac.abort(); };
  process.once('SIGINT', onSigint);
  try {
    const report = await runJob(plan, {
      signal: ac.signal,
      onProgress: (p) => { const line = progressLine(p); if (line) process.stderr.write(line + '\n'); },
    });
    if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else {
      process.stdout.write(`${summaryTable(report)}\n\n${layerTable(report)}\n${report.left_alone ? `\n${leftAloneTable(report.left_alone, 'this job')}\n` : ''}`);
      for (const w of report.warnings) process.stdout.write(`warning: ${w}\n`);
      process.stdout.write(`\nwrote ${report.output}\nreport ${plan.reportPath}\n`);
    }
    return 0;
  } catch (e) {
    const err = e as Error;
    process.stderr.write(err.name === 'AbortError' ? 'lowbit run: cancelled; no output written\n' : `lowbit run: ${err.message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
