/**
 * Writes report.json atomically (temp file + rename) at `reportPath`, and a copy into the history
 * folder `.lowbit-history/` next to it, named `<report name>.<timestamp>.json` so runs never overwrite
 * each other there. A job stages its report with the model (engine/outputCommit) and only adds the
 * history copy (`writeHistory`) once both are in place.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Report } from '../../protocol/report';
import { HISTORY_DIR } from '../../recipe/jobPaths';

export { HISTORY_DIR };

/** The report as written to disk. */
export const reportText = (report: Report): string => JSON.stringify(report, null, 2) + '\n';

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, text, { flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write report ${path}: ${(e as Error).message}`);
  }
}

/** Writes the history copy of a report already at `reportPath`; returns the copy's path. */
export async function writeHistory(report: Report, reportPath: string): Promise<string> {
  const historyDir = join(dirname(reportPath), HISTORY_DIR);
  await mkdir(historyDir, { recursive: true });
  const stamp = report.created_at.replace(/[:.]/g, '-');
  const historyPath = join(historyDir, `${basename(reportPath, '.json')}.${stamp}.json`);
  await writeAtomic(historyPath, reportText(report));
  return historyPath;
}

/** Writes the report and its history copy; returns the history copy's path. */
export async function writeReport(report: Report, reportPath: string): Promise<string> {
  await mkdir(dirname(reportPath), { recursive: true });
  await writeAtomic(reportPath, reportText(report));
  return writeHistory(report, reportPath);
}
