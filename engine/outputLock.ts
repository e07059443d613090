/**
 * One job per output: a lock file `<output>.lock` naming the holder (pid, host, start time). A lock
 * whose process is gone (same host, pid not alive) is stale and taken over; a held lock is an error
 * naming its holder and the lock file.
 *
 * Every step is atomic, so two processes can never both hold the lock (issue 17):
 * - the lock is written complete to a private temp file, then link()ed to `<output>.lock` (fails if
 *   one exists) — no reader ever sees a half-written lock;
 * - a takeover first pins the current lock by link()ing it to `<output>.lock.takeover` (only one
 *   process can), judges the pinned file, and if it is stale and still the lock, rename()s its own
 *   temp file over it. A second process that found the same stale lock finds the marker taken, waits,
 *   and then sees the new holder's live lock.
 */
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { lockPathFor } from '../recipe/jobPaths';

interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

/** A lock file younger than this that cannot be parsed is being written by its holder: held. */
const UNREADABLE_GRACE_MS = 10_000;
/** A takeover marker older than this (by its change time) was left by a process that died mid-takeover. */
const ABANDONED_TAKEOVER_MS = 10_000;
/** How long a process waits for another one's takeover to finish before giving up. */
const TAKEOVER_WAIT_MS = 5_000;

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
  const marker = `${lock}.takeover`;
  const mine: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const tmp = `${lock}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fail = (e: unknown): never => {
    throw new Error(`output ${outputPath}: cannot create lock file ${lock}: ${(e as Error).message}`);
  };
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(JSON.stringify(mine) + '\n');
    } finally {
      await fh.close();
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    fail(e);
  }
  const myIno = (await stat(tmp)).ino;
  const release = () => {
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      // Only our own lock: never one that replaced it.
      const st = await stat(lock).catch(() => undefined);
      if (st?.ino === myIno) await unlink(lock).catch(() => undefined);
    };
  };
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  try {
    for (;;) {
      try {
        await link(tmp, lock);
        return release();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fail(e);
      }
      // Pin the current lock; only one process can hold the marker.
      try {
        await link(lock, marker);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') continue; // released meanwhile: try again
        if (code !== 'EEXIST') fail(e);
        const m = await stat(marker).catch(() => undefined);
        if (m && Date.now() - m.ctimeMs > ABANDONED_TAKEOVER_MS) await unlink(marker).catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`output ${outputPath}: another job is taking over the lock ${lock}; try again`);
        await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
        continue;
      }
      try {
        const h = await holder(marker);
        if (!h.stale) {
          const who = h.info ? `pid ${h.info.pid} on ${h.info.host} since ${h.info.started}` : 'another job (lock file being written)';
          throw new Error(`output ${outputPath} is locked by ${who} (${lock}); wait for that job, or delete the lock file if it is gone`);
        }
        const [now, pinned] = await Promise.all([stat(lock).catch(() => undefined), stat(marker)]);
        if (now && now.ino === pinned.ino && now.dev === pinned.dev) {
          await rename(tmp, lock); // replaces exactly the stale lock we judged
          return release();
        }
      } finally {
        await unlink(marker).catch(() => undefined);
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
