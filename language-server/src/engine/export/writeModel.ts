/** Atomic model writes: temp file in the output folder, fsync, rename. Never the input file. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, realpath, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** The real path of `p`, or of its folder joined with its name when `p` does not exist yet. */
export async function realTarget(p: string): Promise<string> {
  try { return await realpath(p); } catch { /* not there yet */ }
  try { return join(await realpath(dirname(resolve(p))), basename(p)); } catch { return resolve(p); }
}

/**
 * Writes `bytes` to `outPath` atomically. Refuses when the output is the input (after resolving
 * symlinks). On any failure the temp file is removed and the previous output (if any) is left as it was.
 */
export async function writeModelAtomic(bytes: Uint8Array, outPath: string, opts: { inputPath?: string } = {}): Promise<void> {
  if (opts.inputPath && (await realTarget(outPath)) === (await realTarget(opts.inputPath)))
    throw new Error(`refusing to write ${outPath}: it is the input model ${opts.inputPath}`);
  const dir = dirname(resolve(outPath));
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(outPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let done = false;
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, outPath);
    done = true;
  } catch (e) {
    throw new Error(`cannot write ${outPath}: ${(e as Error).message}`);
  } finally {
    if (!done) await unlink(tmp).catch(() => undefined);
  }
}
