/**
 * Checks a job can run before any work: the inputs exist and can be read, no output is an input
 * (recipe/jobPaths, by file identity), and the output folders exist or can be made and are writable.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { JobPlan } from '../protocol/plan';
import { jobPathProblems } from '../recipe/jobPaths';

/** @throws Error naming the path when an input is missing or an output would replace an input or cannot be written. */
export async function preflight(plan: JobPlan, externalFiles: readonly string[] = []): Promise<void> {
  try {
    const st = await stat(plan.modelPath);
    if (!st.isFile()) throw new Error('not a file');
  } catch (e) {
    throw new Error(`model ${plan.modelPath}: cannot read: ${(e as Error).message}`);
  }
  const problems = jobPathProblems(plan, externalFiles);
  if (problems.length) throw new Error(problems.join('; '));
  for (const [what, path] of [
    ['output', plan.outputPath],
    ['report', plan.reportPath],
  ] as const) {
    const dir = dirname(path);
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
    } catch (e) {
      throw new Error(`${what} ${path}: folder ${dir} is not writable: ${(e as Error).message}`);
    }
  }
  for (const p of [plan.calibration, plan.evaluation]) {
    if (p.kind !== 'text') continue;
    for (const f of [p.textPath, p.tokenizerPath]) {
      try {
        await access(f, constants.R_OK);
      } catch (e) {
        throw new Error(`${f}: cannot read: ${(e as Error).message}`);
      }
    }
  }
}
