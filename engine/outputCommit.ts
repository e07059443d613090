/**
 * All-or-previous outputs. A job writes its model, external data and report into a staging folder
 * next to the output (same file system, so renames are atomic), evaluates the staged model, and only
 * then commits: each final path is replaced by one rename, after its previous content is kept aside
 * (a hard link, else a rename) so that a failure half-way puts every earlier file back.
 */
import { link, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** Creates the staging folder for `outputPath` (hidden, next to it). */
export async function createStaging(outputPath: string): Promise<string> {
  const out = resolve(outputPath);
  return mkdtemp(join(dirname(out), `.${basename(out)}.staging-`));
}

/** Removes a staging folder and whatever is left in it. */
export async function removeStaging(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

const code = (e: unknown) => (e as NodeJS.ErrnoException)?.code;

/**
 * Moves each staged file onto its final path, in order. On any failure the files already moved are
 * put back as they were (restored or removed) and the error names the file.
 */
export async function commitStaged(staging: string, moves: readonly { from: string; to: string }[]): Promise<void> {
  const done: { to: string; backup?: string }[] = [];
  try {
    for (const [i, m] of moves.entries()) {
      const backup = join(staging, `previous-${i}`);
      let kept: string | undefined;
      try {
        await link(m.to, backup);
        kept = backup;
      } catch (e) {
        if (code(e) !== 'ENOENT') {
          await rename(m.to, backup);
          kept = backup;
        }
      }
      const entry = { to: m.to, backup: kept };
      try {
        await rename(m.from, m.to);
      } catch (e) {
        if (kept) await rename(kept, m.to).catch(() => undefined);
        throw new Error(`cannot move ${basename(m.from)} into place as ${m.to}: ${(e as Error).message}`);
      }
      done.push(entry);
    }
  } catch (e) {
    for (const d of done.reverse()) {
      if (d.backup) await rename(d.backup, d.to).catch(() => undefined);
      else await unlink(d.to).catch(() => undefined);
    }
    throw e;
  }
}
