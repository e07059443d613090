/**
 * Writes report.json atomically (temp file + rename) at `reportPath`, and a copy into the history
 * folder `.lowbit-history/` next to it, named `<report name>.<timestamp>.json` so runs never overwrite
 * each other there.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Report } from '../../protocol/report';

export const HISTORY_DIR = '.lowbit-history';

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write report ${path}: ${(e as Error).message}`);
  }
}

/** Writes the report and its history copy; returns the history copy's path. */
export async function writeReport(report: Report, reportPath: string): Promise<string> {
  const text = JSON.stringify(report, null, 2) + '\n';
  await mkdir(dirname(reportPath), { recursive: true });
  await writeAtomic(reportPath, text);
  const historyDir = join(dirname(reportPath), HISTORY_DIR);
  await mkdir(historyDir, { recursive: true });
  const stamp = report.created_at.replace(/[:.]/g, '-');
  const historyPath = join(historyDir, `${basename(reportPath, '.json')}.${stamp}.json`);
  await writeAtomic(historyPath, text);
  return historyPath;
}
