/** Whether the native addon behind native/ts/index.ts loads on this machine (tests skip with a clear message when not). */
import { relativeError } from '../../native/ts/index';

/** True when a trivial native call succeeds (the addon is built and loadable). */
export function nativeKernelsAvailable(): boolean {
  try {
    relativeError(new Float32Array([1]), new Float32Array([1]), 1, 1, new Float64Array([1]));
    return true;
  } catch {
    return false;
  }
}
