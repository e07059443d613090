/**
 * The one async-job contract of every native kernel (native/src/binding/kernel_worker.h): a kernel
 * takes `ctl = { token, onProgress(done, total), threads }` last and returns a promise; an AbortSignal
 * becomes `lbCancel(token)`, and the promise then rejects with code E_CANCELLED.
 *
 * Inputs are read in place (zero-copy) while the job runs: do not mutate, transfer or detach the typed
 * arrays passed to a kernel until its promise settles.
 */
import { LowbitKernelError, loadAddon } from './addon';

/** Cooperative cancellation, progress (units done of total) and thread count (0 = all cores). */
export interface JobControl {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  threads?: number;
}

/** What a binding receives as its last argument. */
export interface NativeJobControl {
  token: unknown;
  onProgress?: (done: number, total: number) => void;
  threads: number;
}

interface CancelTokens {
  lbCreateToken(): unknown;
  lbCancel(token: unknown): void;
}

/**
 * Runs one native kernel: `start(native ctl)` with a fresh cancel token tied to `ctl.signal`. Errors
 * become {@link LowbitKernelError}s whose message starts with `what: ` (when given); an already aborted
 * signal rejects with E_CANCELLED before the kernel starts.
 */
export async function runNativeJob<T>(
  what: string | undefined,
  ctl: JobControl | undefined,
  start: (native: NativeJobControl) => Promise<T>,
): Promise<T> {
  const prefix = what ? `${what}: ` : '';
  if (ctl?.signal?.aborted) throw new LowbitKernelError(`${prefix}cancelled before start`, 'E_CANCELLED');
  const tokens = loadAddon<CancelTokens>('lbCreateToken');
  const token = tokens.lbCreateToken();
  const onAbort = (): void => tokens.lbCancel(token);
  ctl?.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await start({ token, onProgress: ctl?.onProgress, threads: ctl?.threads ?? 0 });
  } catch (e) {
    if (e instanceof LowbitKernelError) throw e;
    const err = e as Error & { code?: string };
    throw new LowbitKernelError(prefix + err.message, err.code ?? 'E_NUMERIC');
  } finally {
    ctl?.signal?.removeEventListener('abort', onAbort);
  }
}
