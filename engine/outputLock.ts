/**
 * One job per output: a lock file `<output>.lock` naming the holder (pid, host, start time), created
 * exclusively. A lock whose process is gone (same host, pid not alive) is stale and taken over; a
 * held lock is an error naming its holder and the lock file.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { lockPathFor } from '../recipe/jobPaths';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

/** A lock file younger than this that cannot be parsed is being written by its holder: held. */
const UNREADABLE_GRACE_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function holder(lock: string): Promise<{ info?: LockInfo; stale: boolean }> {
  let text: string;
  try {
    text = await readFile(lock, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { stale: true };
    throw e;
  }
  let info: LockInfo | undefined;
  try {
    const j = JSON.parse(text) as Partial<LockInfo>;
    if (Number.isSafeInteger(j.pid) && typeof j.host === 'string') info = { pid: j.pid!, host: j.host, started: String(j.started ?? '?') };
  } catch {
    /* unreadable */
  }
  if (!info) {
    const age =
      Date.now() -
      (await stat(lock).then(
        (s) => s.mtimeMs,
        () => 0,
      ));
    return { stale: age > UNREADABLE_GRACE_MS };
  }
  return { info, stale: info.host === hostname() && info.pid !== process.pid && !alive(info.pid) };
}

/**
 * Takes the lock of `outputPath`; resolves with its release function.
 * @throws Error naming the output, the holder (pid, host, since) and the lock file when it is held.
 */
export async function lockOutput(outputPath: string): Promise<() => Promise<void>> {
  const lock = lockPathFor(outputPath);
  const mine: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(lock, 'wx');
      try {
        await fh.writeFile(JSON.stringify(mine) + '\n');
      } finally {
        await fh.close();
      }
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await unlink(lock).catch(() => undefined);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new Error(`output ${outputPath}: cannot create lock file ${lock}: ${(e as Error).message}`);
    }
    const h = await holder(lock);
    if (!h.stale) {
      const who = h.info ? `pid ${h.info.pid} on ${h.info.host} since ${h.info.started}` : 'another job (lock file being written)';
      throw new Error(`output ${outputPath} is locked by ${who} (${lock}); wait for that job, or delete the lock file if it is gone`);
    }
    await unlink(lock).catch(() => undefined);
  }
  throw new Error(`output ${outputPath}: could not take the lock ${lock}`);
}
