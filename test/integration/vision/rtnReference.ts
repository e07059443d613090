/** Test-only float64 reference quantizer, independent of the native kernels. */

/** Symmetric per-row RTN (round half to even), dequantized. */
export function rtnRows(w: Float32Array, rows: number, cols: number, bits: number): Float32Array {
  const out = new Float32Array(w.length);
  const qmax = 2 ** (bits - 1) - 1;
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(w[r * cols + c]));
    const s = m / qmax || 1;
    for (let c = 0; c < cols; c++) {
      const x = w[r * cols + c] / s;
      let q = Math.round(x);
      if (Math.abs(x % 1) === 0.5) q = 2 * Math.round(x / 2);
      out[r * cols + c] = Math.max(-qmax - 1, Math.min(qmax, q)) * s;
    }
  }
  return out;
}
