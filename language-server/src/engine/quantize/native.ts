/**
 * The engine's view of the core native kernels (native/ts/index.ts: Hessian accumulation, RTN, GPTQ,
 * relative error). Loaded lazily so that the rest of the engine (inspect, evaluation) works, and
 * type-checks, in a build where that wrapper is absent; using a kernel then fails with a clear error.
 * FIXME(pipeline): switch to a static `import * as native from '../../../../native/ts/index'` once the
 * wrapper is in the tree, and drop the local interface in favour of its types.
 */

/** Streamed H = 2XXᵀ/N accumulator for one input (n channels). */
export interface NativeHessian {
  readonly n: number;
  add(x: Float32Array, tokens: number): void;
}

/** Unpacked quantized weight as the kernels return it (see engine/export/types.ts QuantizedWeightLike). */
export interface NativeQuantized {
  bits: number;
  groupSize: number;
  rows: number;
  cols: number;
  codes: Uint8Array;
  scales: Float32Array;
  zeros?: Uint8Array | Float32Array;
  dequant: Float32Array;
}

export interface NativeGptqResult extends NativeQuantized {
  loss: number;
  damp: number;
  dampRetries: number;
}

export interface NativeKernels {
  Hessian: new (n: number) => NativeHessian;
  rtn(w: Float32Array, rows: number, cols: number, opts: { bits: number; groupSize: number; symmetric: boolean; mseClip?: boolean }): NativeQuantized | Promise<NativeQuantized>;
  gptq(w: Float32Array, rows: number, cols: number, H: NativeHessian, opts: {
    bits: number; groupSize: number; symmetric: boolean; damp: number; blockSize: number; actOrder: boolean; staticGroups: boolean;
  }, ctl: { signal?: AbortSignal; onProgress?: (fraction: number) => void }): Promise<NativeGptqResult>;
  relativeError(w: Float32Array, what: Float32Array, rows: number, cols: number, H: NativeHessian): number;
}

let loaded: NativeKernels | undefined;
let loadError: string | undefined;

/** The native kernels; throws a clear error when they are not part of this build. */
export function nativeKernels(): NativeKernels {
  if (loaded) return loaded;
  if (loadError === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require('../../../../native/ts/index') as NativeKernels;
      return loaded;
    } catch (e) {
      loadError = (e as Error).message.split('\n')[0];
    }
  }
  throw new Error(`the native kernels (native/ts/index.ts: Hessian, rtn, gptq, relativeError) are not available in this build: ${loadError}`);
}

/** Whether the native kernels load (tests skip engine runs with a clear message when not). */
export function nativeKernelsAvailable(): boolean {
  try {
    nativeKernels();
    return true;
  } catch {
    return false;
  }
}
