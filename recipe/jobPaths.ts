/**
 * Which files a job reads and which it writes, and the checks between them: no output may be an
 * input (by real file identity: real path, or device + inode for hard links), an existing output
 * must be a regular file (never a FIFO, device or folder), and nothing is written into a virtual
 * file system. `lowbit check` and `lowbit run` share these checks, so check refuses what run would.
 */
import { constants, statSync, accessSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { JobPlan } from '../protocol/plan';

/** The history folder next to the report (see report/writeReport). */
export const HISTORY_DIR = '.lowbit-history';

export interface NamedPath {
  what: string;
  path: string;
}

/** Every file the job reads: the recipe, the model and its external data, tokenizers, data files. */
export function jobInputs(plan: JobPlan, externalFiles: readonly string[] = []): NamedPath[] {
  const out: NamedPath[] = [{ what: 'the input model', path: plan.modelPath }];
  for (const f of externalFiles) out.push({ what: `the input model's external data`, path: f });
  if (plan.recipePath) out.push({ what: 'the recipe', path: plan.recipePath });
  const c = plan.calibration;
  if (c.kind === 'text')
    out.push({ what: 'the calibration text', path: c.textPath }, { what: 'the calibration tokenizer', path: c.tokenizerPath });
  if (c.kind === 'tensors' || c.kind === 'images') out.push({ what: `the calibration ${c.kind}`, path: c.path });
  const e = plan.evaluation;
  if (e.kind === 'text')
    out.push({ what: 'the evaluation text', path: e.textPath }, { what: 'the evaluation tokenizer', path: e.tokenizerPath });
  if (e.kind === 'tensors' || e.kind === 'images') out.push({ what: `the evaluation ${e.kind}`, path: e.path });
  if (e.kind === 'images' && e.labelsPath) out.push({ what: 'the evaluation labels', path: e.labelsPath });
  return out;
}

/** The lock file of an output (see outputLock). */
export const lockPathFor = (outputPath: string): string => `${outputPath}.lock`;

/** Every file the job writes (or may replace): the model, its external data, the report, the lock. */
export function jobOutputs(plan: Pick<JobPlan, 'outputPath' | 'reportPath'>): NamedPath[] {
  return [
    { what: 'output', path: plan.outputPath },
    { what: 'output external data', path: `${plan.outputPath}.data` },
    { what: 'report', path: plan.reportPath },
    { what: 'output lock', path: lockPathFor(plan.outputPath) },
  ];
}

const statOrUndefined = (p: string): Stats | undefined => {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
};

/** The real path of `p`, or of its nearest existing folder joined with the rest when `p` does not exist. */
export function realTarget(p: string): string {
  const abs = resolve(p);
  try {
    return realpathSync(abs);
  } catch {
    /* not there yet */
  }
  const parent = dirname(abs);
  return parent === abs ? abs : join(realTarget(parent), basename(abs));
}

/** Same file: same real path, or both existing with the same device and inode (hard links). */
export function sameFile(a: string, b: string): boolean {
  if (realTarget(a) === realTarget(b)) return true;
  const x = statOrUndefined(a),
    y = statOrUndefined(b);
  return Boolean(x && y && x.dev === y.dev && x.ino === y.ino);
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const VIRTUAL_ROOTS = ['/proc', '/sys', '/dev'];

/**
 * Problems that would make a job lose an input or fail at the end; one sentence each, naming the
 * output and the file it collides with. Creates nothing. Empty when the job may run.
 */
export function jobPathProblems(plan: JobPlan, externalFiles: readonly string[] = []): string[] {
  const problems: string[] = [];
  const inputs = jobInputs(plan, externalFiles);
  const outputs = jobOutputs(plan);
  for (const o of outputs) {
    const real = realTarget(o.path);
    const root = VIRTUAL_ROOTS.find((r) => real === r || real.startsWith(r + sep));
    if (root) {
      problems.push(`${o.what} ${o.path} is in ${root}, a virtual file system; write it elsewhere`);
      continue;
    }
    const st = statOrUndefined(o.path);
    if (st && !st.isFile()) problems.push(`${o.what} ${o.path} exists and is ${kindOf(st)}; only a regular file is replaced`);
    for (const i of inputs) {
      if (sameFile(o.path, i.path)) problems.push(`${o.what} ${o.path} is ${i.what} (${i.path}); inputs are never overwritten`);
    }
  }
  for (const [i, o] of outputs.entries()) {
    for (const p of outputs.slice(i + 1))
      if (sameFile(o.path, p.path)) problems.push(`${o.what} ${o.path} and ${p.what} ${p.path} are the same file`);
  }
  const history = join(dirname(resolve(plan.reportPath)), HISTORY_DIR);
  const hst = statOrUndefined(history);
  if (hst && !hst.isDirectory())
    problems.push(`${history} exists and is ${hst.isFile() ? 'a file' : kindOf(hst)}; the report history needs a folder there`);
  for (const o of [outputs[0], outputs[2]]) {
    const dir = nearestExisting(dirname(resolve(o.path)));
    const st = statOrUndefined(dir);
    if (st && !st.isDirectory()) {
      problems.push(`${o.what} ${o.path}: folder ${dir} is not writable (it is not a folder)`);
      continue;
    }
    try {
      accessSync(dir, constants.W_OK);
    } catch (e) {
      problems.push(`${o.what} ${o.path}: folder ${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return [...new Set(problems)];
}

function nearestExisting(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (statOrUndefined(d) || dirname(d) === d) return d;
  }
}
