/** The result type the RTN/GPTQ/AWQ kernels share (a leaf module, so the kernel wrappers need not import each other). */

/** Unpacked quantized weight (rows × cols codes, rows × numGroups parameters). */
export interface QuantizedWeight {
  rows: number;
  cols: number;
  bits: number;
  /** Effective group size: = cols when per-channel. */
  groupSize: number;
  symmetric: boolean;
  /** rows × cols, unpacked, in [0, 2^bits − 1]. */
  codes: Uint8Array;
  /** rows × numGroups, fp32. */
  scales: Float32Array;
  /** rows × numGroups integer zero points. */
  zeros: Uint8Array;
  /** rows × cols, scale·(code − zero). */
  dequant: Float32Array;
}
