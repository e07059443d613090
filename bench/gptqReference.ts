/**
 * The IST-DASLab GPTQ reference (github.com/IST-DASLab/gptq), timed in the same run as our solve:
 * found in LOWBIT_GPTQ_REFERENCE (a folder with gptq.py and quant.py), else in a fetched mirror
 * (/work/.mirror/IST-DASLab+gptq/repo, a bare git repository: the two files are extracted to a temp
 * folder), else ../gptq or ../shared/reference/gptq next to the checkout. It runs under
 * /usr/bin/python3 with Debian's python3-torch. When either is missing, `why` says so plainly.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PYTHON = '/usr/bin/python3';
const MIRROR = '/work/.mirror/IST-DASLab+gptq/repo';

export type ReferenceTiming =
  { solveS: number[]; torch: string; threads: number; probe: Record<string, number>; source: string } | { why: string };

function findReference(): { dir: string; source: string; cleanup?: () => void } | undefined {
  const env = process.env.LOWBIT_GPTQ_REFERENCE;
  const repo = resolve(__dirname, '..');
  for (const dir of [env, resolve(repo, '..', 'gptq'), resolve(repo, '..', 'shared', 'reference', 'gptq')]) {
    if (dir && existsSync(join(dir, 'gptq.py')) && existsSync(join(dir, 'quant.py'))) return { dir, source: dir };
  }
  if (existsSync(MIRROR)) {
    try {
      const dir = mkdtempSync(join(tmpdir(), 'lowbit-gptq-ref-'));
      for (const f of ['gptq.py', 'quant.py']) writeFileSync(join(dir, f), execFileSync('git', ['--git-dir', MIRROR, 'show', `HEAD:${f}`]));
      const commit = execFileSync('git', ['--git-dir', MIRROR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
      return { dir, source: `${MIRROR} @ ${commit}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    } catch {
      /* not a usable mirror */
    }
  }
  return undefined;
}

/**
 * Times the reference's fasterquant (4-bit, g128, asymmetric, blocksize 128, damp 0.01): the first
 * repetition once per thread count in `threads`, the remaining `reps − 1` with the fastest of them
 * (torch's threads can make it several times slower on a loaded machine; we compare with its best).
 */
export function timeReference(n: number, tokens: number, threads: number[], reps: number): ReferenceTiming {
  const ref = findReference();
  if (!ref)
    return {
      why: `the IST-DASLab gptq repository is not present (looked in LOWBIT_GPTQ_REFERENCE, ${resolve(__dirname, '..', '..', 'gptq')}, ../shared/reference/gptq and the mirror ${MIRROR}); get it with: git clone https://github.com/IST-DASLab/gptq ${resolve(__dirname, '..', '..', 'gptq')}`,
    };
  try {
    if (!existsSync(PYTHON)) return { why: `${PYTHON} is not installed` };
    try {
      execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    } catch {
      return { why: `torch is not installed for ${PYTHON} (apt-get install python3-torch)` };
    }
    const out = execFileSync(
      PYTHON,
      [resolve(__dirname, 'gptqReference.py'), ref.dir, String(n), String(tokens), threads.join(','), String(reps)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      solve_s: number[];
      torch: string;
      threads: number;
      probe: Record<string, number>;
    };
    return { solveS: r.solve_s, torch: r.torch, threads: r.threads, probe: r.probe, source: ref.source };
  } catch (e) {
    return { why: `the reference failed to run: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    ref.cleanup?.();
  }
}
