/**
 * Layer-local loss of a scaled quantization for a group of layers sharing one input (AWQ / OS+
 * searches): Σ_layers tr(ΔHΔᵀ) with Δ = W − Q(W·diag s)·diag(s)⁻¹ and H the shared input Hessian.
 */
import * as native from '../../native/ts/index';
import type { LayerWeight } from './kernelTypes';

/** Weight quantization of the search (RTN on this project's grid). */
export interface SearchQuant {
  bits: number;
  groupSize: number;
  symmetric: boolean;
}

/** W·diag(s) (inverse: W·diag(s)⁻¹), W rows×cols row-major. */
export function scaleColumns(w: Float32Array, rows: number, cols: number, s: ArrayLike<number>, inverse = false): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[o + c] = inverse ? w[o + c] / s[c] : w[o + c] * s[c];
  }
  return out;
}

/** tr(WHWᵀ) in float64. */
export function quadraticForm(w: LayerWeight, H: Float64Array): number {
  const { rows, cols, data } = w;
  let total = 0;
  const row = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) row[c] = data[r * cols + c];
    for (let a = 0; a < cols; a++) {
      if (row[a] === 0) continue;
      let v = 0;
      const ha = a * cols;
      for (let b = 0; b < cols; b++) v += H[ha + b] * row[b];
      total += row[a] * v;
    }
  }
  return total;
}

/** A group member with its precomputed tr(WHWᵀ) and its own quantizer. */
export interface GroupMember {
  name: string;
  weight: LayerWeight;
  quant: SearchQuant;
  norm: number;
}

/** Σ tr(ΔHΔᵀ) over the group for input scale s (absolute, not relative). */
export async function groupLoss(
  members: GroupMember[],
  H: Float64Array,
  s: Float32Array,
  threads = 0,
  signal?: AbortSignal,
): Promise<number> {
  let loss = 0;
  for (const m of members) {
    const { data, rows, cols } = m.weight;
    const q = await native.rtn(scaleColumns(data, rows, cols, s), rows, cols, m.quant, { signal, threads });
    loss += native.relativeError(data, scaleColumns(q.dequant, rows, cols, s, true), rows, cols, H, threads) * m.norm;
  }
  return loss;
}
