/** Checks a job can run before any work: input exists, output is not the input and can be written. */
import { constants } from 'node:fs';
import { access, mkdir, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { JobPlan } from '../protocol/plan';

async function sameFile(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  try {
    return (await realpath(a)) === (await realpath(b));
  } catch {
    return false;
  }
}

/** @throws Error naming the path when the model is missing or the output cannot be written. */
export async function preflight(plan: JobPlan): Promise<void> {
  try {
    const st = await stat(plan.modelPath);
    if (!st.isFile()) throw new Error('not a file');
  } catch (e) {
    throw new Error(`model ${plan.modelPath}: cannot read: ${(e as Error).message}`);
  }
  if (await sameFile(plan.modelPath, plan.outputPath)) {
    throw new Error(`output ${plan.outputPath} is the input model; the input is never overwritten`);
  }
  for (const [what, path] of [['output', plan.outputPath], ['report', plan.reportPath]] as const) {
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
