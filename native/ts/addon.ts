/**
 * Loads the one native addon (native/build/Release/lowbit_native.node) for every kernel wrapper,
 * from source (tsx), from the bundles in dist/, or from an installed .vsix; LOWBIT_NATIVE overrides.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Error thrown by a kernel; `code` is E_SHAPE, E_NUMERIC, E_CANCELLED, E_ARG or E_INPUT. */
export class LowbitKernelError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'LowbitKernelError';
  }
}

let loaded: Record<string, unknown> | undefined;

/**
 * The addon's exports, typed by the caller. `required` names a function this wrapper needs: a stale
 * build that lacks it gets a clear "rebuild" error instead of a TypeError later.
 */
export function loadAddon<T>(required: string): T {
  if (!loaded) {
    const here = typeof __dirname !== 'undefined' ? __dirname : dirname(fileURLToPath(import.meta.url));
    const found = [
      process.env.LOWBIT_NATIVE,
      resolve(here, '../build/Release/lowbit_native.node'),
      resolve(here, '../native/build/Release/lowbit_native.node'),
      join(process.cwd(), 'native/build/Release/lowbit_native.node'),
    ].filter((p): p is string => !!p && existsSync(p));
    if (!found.length) throw new LowbitKernelError('lowbit native addon not built: run `npm run install`', 'E_ARG');
    loaded = createRequire(join(here, 'addon.js'))(found[0]!) as Record<string, unknown>;
  }
  if (typeof loaded[required] !== 'function') {
    throw new LowbitKernelError(`the lowbit native addon lacks ${required}: rebuild it with \`npm run install\``, 'E_ARG');
  }
  return loaded as T;
}
