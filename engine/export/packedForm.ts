/**
 * The `packed` format's stored pieces, before they become ONNX tensors: bit-plane fields of unsigned
 * codes and per-(row, group) parameter tables, plus the arithmetic that turns them back into weights.
 * `decodePacked` is the reference for the ONNX decode subgraph (packedWriter.ts): both compute in
 * float64 and round once to float32, so they reproduce the kernels' dequantized weights exactly.
 */
import { ExportUnsupported, type NormalizedQuant } from './pack';
import type { BinaryForm } from './types';

/** `bits`-bit unsigned values, one per entry (per weight in row-major order unless said otherwise). */
export interface Field {
  bits: number;
  values: Uint8Array;
}

/** A rows × nGroups × k table (row-major); group g covers columns [g·group, (g+1)·group). */
export interface ParamTable {
  data: Float32Array;
  group: number;
  k: number;
}

/** ŵ = (q − z)·s per group. `zeros` is a table (k = 1, integers) or one value for all groups. */
export interface GridPacked {
  kind: 'grid';
  rows: number;
  cols: number;
  codes: Field;
  scales: ParamTable;
  zeros: ParamTable | number;
}

/**
 * ŵ = Σⱼ lut[idx][j]·P[r, g, j] with idx = code + colCode·2^code.bits: the code picks which of the
 * row-group's parameters add up (lut entries are −1, 0 or 1).
 */
export interface LutPacked {
  kind: 'lut';
  rows: number;
  cols: number;
  codes: Field;
  /** One value per column (e.g. BiLLM's salient-column bit). */
  colCodes?: Field;
  lut: number[][];
  params: ParamTable;
}

/**
 * PB-LLM: `mask` 1 → ŵ = (2·sign − 1)·α + μ, else (code − z)·s; `signs` hold one bit per masked
 * entry and `codes` one code (8 bits, or PB-LLM `high_bits`) per unmasked entry, in row-major order, each followed by one pad
 * value (so neither is empty, and the decoder's running count never points past the end).
 */
export interface PbllmPacked {
  kind: 'pbllm';
  rows: number;
  cols: number;
  mask: Field;
  signs: Field;
  codes: Field;
  bin: ParamTable;
  scales: ParamTable;
  zeros: ParamTable;
}

/**
 * A pruned grid layer: `keep` 1 → ŵ = (q − z)·s with q the next entry of `codes` (one per kept
 * weight, row-major, followed by one pad value), 0 → ŵ = 0. The file holds one bit a weight plus the
 * surviving codes: at 50% sparsity and b bits, 1 + b/2 bits a weight instead of b.
 */
export interface SparseGridPacked {
  kind: 'sparse';
  rows: number;
  cols: number;
  keep: Field;
  codes: Field;
  scales: ParamTable;
  zeros: ParamTable | number;
}

/**
 * An N:M-pruned grid layer with index codes: each group of `m` consecutive weights of a row keeps
 * exactly `keep` of them; `patterns` holds, per group, the rank of its kept set among the C(m, keep)
 * subsets (colex order = ascending order of the group's keep bitmask, bit j = column j of the group),
 * in ⌈log₂ C(m, keep)⌉ bits: 3 bits per 4 weights at 2:4, 7 bits per 8 at 4:8 (a bitmap takes m).
 * `codes` holds exactly `keep` codes per group (a kept weight that rounded to 0 keeps its code),
 * row-major, followed by one pad value.
 */
export interface NmSparseGridPacked {
  kind: 'nm';
  rows: number;
  cols: number;
  m: number;
  keep: number;
  patterns: Field;
  codes: Field;
  scales: ParamTable;
  zeros: ParamTable | number;
}

export type PackedLayer = GridPacked | LutPacked | PbllmPacked | SparseGridPacked | NmSparseGridPacked;

/** Effective group size of a kernel option (≤ 0 or ≥ cols = whole row). */
export function effectiveGroup(group: number, cols: number): number {
  return group <= 0 || group >= cols ? cols : group;
}

function table(data: Float32Array, group: number, k: number, rows: number, cols: number, what: string): ParamTable {
  const g = effectiveGroup(group, cols);
  const want = rows * Math.ceil(cols / g) * k;
  if (data.length !== want)
    throw new Error(`${what}: ${data.length} parameters, expected ${rows}×${Math.ceil(cols / g)}×${k} (group ${g})`);
  return { data, group: g, k };
}

const bitAt = (p: Uint8Array, i: number): number => (p[i >> 3] >> (i & 7)) & 1;

/** Grid codes (rtn/gptq/awq/flrq…) at their real bit width. */
export function packGrid(nq: NormalizedQuant): GridPacked {
  const { rows, cols } = nq;
  const zeros = nq.zeros.every((z) => z === nq.zeros[0])
    ? nq.zeros[0]
    : table(Float32Array.from(nq.zeros), nq.group, 1, rows, cols, 'zero points');
  return {
    kind: 'grid',
    rows,
    cols,
    codes: { bits: nq.bits, values: nq.codes },
    scales: table(nq.scales, nq.group, 1, rows, cols, 'scales'),
    zeros,
  };
}

/**
 * A pruned layer's grid codes as a bitmap of the nonzero weights plus their codes. A kept weight that
 * quantized to exactly 0 is stored as pruned: it decodes to the same 0.
 */
export function packSparseGrid(nq: NormalizedQuant, dequant: Float32Array): SparseGridPacked {
  const g = packGrid(nq);
  const n = nq.rows * nq.cols;
  const keep = new Uint8Array(n);
  const codes: number[] = [];
  for (let i = 0; i < n; i++)
    if (dequant[i] !== 0) {
      keep[i] = 1;
      codes.push(nq.codes[i]);
    }
  codes.push(0);
  return { ...g, kind: 'sparse', keep: { bits: 1, values: keep }, codes: { bits: nq.bits, values: Uint8Array.from(codes) } };
}

function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1);
  return Math.round(r);
}

/** Bits of one N:M pattern code: ⌈log₂ C(m, keep)⌉. */
export function patternBits(m: number, keep: number): number {
  return Math.max(1, Math.ceil(Math.log2(binomial(m, keep))));
}

/** Rank of a keep bitmask (bit j = position j) among the masks with the same popcount: Σᵢ C(cᵢ, i+1) over its set bits c₀ < c₁ < … */
export function patternRank(mask: number, m: number): number {
  let rank = 0,
    i = 0;
  for (let c = 0; c < m; c++) if ((mask >> c) & 1) rank += binomial(c, ++i);
  return rank;
}

/** The keep bitmasks of C(m, keep) patterns by rank (the inverse of patternRank). */
export function patternTable(m: number, keep: number): number[] {
  const out: number[] = [];
  for (let mask = 0; mask < 1 << m; mask++) {
    let pop = 0;
    for (let c = 0; c < m; c++) pop += (mask >> c) & 1;
    if (pop === keep) out[patternRank(mask, m)] = mask;
  }
  return out;
}

/** Payload bits (codes, bitmap or pattern codes, pads) of the two sparse forms, to pick the smaller. */
export function sparsePayloadBits(p: SparseGridPacked | NmSparseGridPacked): number {
  return p.kind === 'nm'
    ? p.patterns.values.length * p.patterns.bits + p.codes.values.length * p.codes.bits
    : p.keep.values.length + p.codes.values.length * p.codes.bits;
}

/**
 * A layer pruned `n:m` (n of every m consecutive input columns of each row pruned) as pattern codes
 * plus exactly m − n codes per group. The kept set of a group is its nonzero weights, filled up to
 * m − n with its first zero positions (their codes decode to 0, checked by the writer).
 * @throws Error naming the layer, row and columns when a group has more than m − n nonzero weights
 * (the mask is not n:m) or the width is not a multiple of m
 */
export function packNmSparseGrid(layer: string, nq: NormalizedQuant, dequant: Float32Array, n: number, m: number): NmSparseGridPacked {
  const { rows, cols } = nq;
  const keep = m - n;
  if (!(Number.isInteger(n) && Number.isInteger(m) && n >= 0 && keep >= 1 && m <= 8))
    throw new Error(`layer '${layer}': ${n}:${m} is not an N:M pattern the packed format stores (m ≤ 8, n < m)`);
  if (cols % m !== 0) throw new Error(`layer '${layer}': ${n}:${m} sparsity needs an input width that is a multiple of ${m}, not ${cols}`);
  const groups = (rows * cols) / m;
  const patterns = new Uint8Array(groups);
  const codes = new Uint8Array(groups * keep + 1);
  let k = 0;
  for (let g = 0; g < groups; g++) {
    const base = g * m;
    let mask = 0,
      nz = 0;
    for (let j = 0; j < m; j++)
      if (dequant[base + j] !== 0) {
        mask |= 1 << j;
        nz++;
      }
    if (nz > keep) {
      const r = Math.floor(base / cols),
        c = base % cols;
      throw new Error(
        `layer '${layer}': the mask is not ${n}:${m}: row ${r}, columns ${c}–${c + m - 1} keep ${nz} nonzero weights, at most ${keep} allowed`,
      );
    }
    for (let j = 0; j < m && nz < keep; j++)
      if (!((mask >> j) & 1)) {
        mask |= 1 << j;
        nz++;
      }
    patterns[g] = patternRank(mask, m);
    for (let j = 0; j < m; j++) if ((mask >> j) & 1) codes[k++] = nq.codes[base + j];
  }
  const g = packGrid(nq);
  return {
    kind: 'nm',
    rows,
    cols,
    m,
    keep,
    patterns: { bits: patternBits(m, keep), values: patterns },
    codes: { bits: nq.bits, values: codes },
    scales: g.scales,
    zeros: g.zeros,
  };
}

/** BiLLM: sign1 + (sign2 on salient columns, dense/sparse group bit elsewhere) = 2 bits a weight. */
const BILLM_LUT: number[][] = (() => {
  const out: number[][] = [];
  for (let idx = 0; idx < 8; idx++) {
    const s1 = idx & 1 ? 1 : -1,
      b = (idx >> 1) & 1,
      salient = idx >> 2;
    // Parameters: (α, μ) sparse, (α, μ) dense, (α₁, μ₁), (α₂, μ₂) salient order 2.
    if (salient) out.push([0, 0, 0, 0, s1, 1, b ? 1 : -1, 1]);
    else out.push(b ? [0, 0, s1, 1, 0, 0, 0, 0] : [s1, 1, 0, 0, 0, 0, 0, 0]);
  }
  return out;
})();

/** The packed form of a binarized layer; the caller checks it against the dequantized weight. */
export function packBinary(b: BinaryForm, rows: number, cols: number, dequant: Float32Array): LutPacked | PbllmPacked {
  const n = rows * cols;
  if (b.kind === 'billm') {
    const codes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const sal = bitAt(b.salientCols, i % cols);
      codes[i] = bitAt(b.sign1, i) | ((sal ? bitAt(b.sign2, i) : bitAt(b.groupBits, i)) << 1);
    }
    const colCodes = Uint8Array.from({ length: cols }, (_, c) => bitAt(b.salientCols, c));
    return {
      kind: 'lut',
      rows,
      cols,
      codes: { bits: 2, values: codes },
      colCodes: { bits: 1, values: colCodes },
      lut: BILLM_LUT,
      params: table(b.scales, b.group, 8, rows, cols, 'billm scales'),
    };
  }
  if (b.kind === 'dualbin') {
    if (b.b1.length !== n || b.b2.length !== n) throw new Error(`dualbin: ${b.b1.length}/${b.b2.length} bits for a ${rows}×${cols} weight`);
    const codes = Uint8Array.from({ length: n }, (_, i) => (b.b1[i] ? 1 : 0) | (b.b2[i] ? 2 : 0));
    return {
      kind: 'lut',
      rows,
      cols,
      codes: { bits: 2, values: codes },
      lut: [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ],
      params: table(b.alphas, b.group, 2, rows, cols, 'dualbin alphas'),
    };
  }
  return packPbllm(b, rows, cols, dequant);
}

/** PB-LLM: the high-bit codes (8 bits unless `highBits`) and the signs are recovered from the dequantized weight, exactly. */
function packPbllm(b: Extract<BinaryForm, { kind: 'pbllm' }>, rows: number, cols: number, dequant: Float32Array): PbllmPacked {
  const n = rows * cols;
  if (b.mask.length !== n) throw new Error(`pbllm: mask has ${b.mask.length} entries for a ${rows}×${cols} weight`);
  const bin = table(b.binParams, b.group, 2, rows, cols, 'pbllm binary parameters');
  const q8 = table(b.q8Params, b.group, 2, rows, cols, 'pbllm 8-bit parameters');
  const ng = Math.ceil(cols / bin.group);
  const highBits = b.highBits ?? 8,
    top = (1 << highBits) - 1;
  const signs: number[] = [];
  const codes: number[] = [];
  const scales = new Float32Array(rows * ng),
    zeros = new Float32Array(rows * ng);
  for (let i = 0; i < rows * ng; i++) {
    scales[i] = q8.data[2 * i];
    zeros[i] = q8.data[2 * i + 1];
  }
  for (let i = 0; i < n; i++) {
    const p = Math.floor(i / cols) * ng + Math.floor((i % cols) / bin.group);
    const v = dequant[i];
    if (b.mask[i]) {
      const a = bin.data[2 * p],
        mu = bin.data[2 * p + 1];
      if (v === Math.fround(a + mu)) signs.push(1);
      else if (v === Math.fround(-a + mu)) signs.push(0);
      else throw new ExportUnsupported(`pbllm entry ${i} (${v}) is neither α+μ nor −α+μ of its group`);
    } else {
      const s = scales[p],
        z = zeros[p];
      const code = Math.round(v / s) + z;
      if (!(code >= 0 && code <= top && Math.fround(s * (code - z)) === v))
        throw new ExportUnsupported(`pbllm entry ${i} (${v}) is not on its ${highBits}-bit grid`);
      codes.push(code);
    }
  }
  signs.push(0);
  codes.push(0);
  return {
    kind: 'pbllm',
    rows,
    cols,
    mask: { bits: 1, values: Uint8Array.from(b.mask, (m) => (m ? 1 : 0)) },
    signs: { bits: 1, values: Uint8Array.from(signs) },
    codes: { bits: highBits, values: Uint8Array.from(codes) },
    bin,
    scales: { data: scales, group: bin.group, k: 1 },
    zeros: { data: zeros, group: bin.group, k: 1 },
  };
}

/**
 * Bit planes of a field: plane p holds bit p of every value, value i at bit i of the plane
 * (little-endian within a byte). Returns bits × ceil(count/8) bytes.
 */
export function packPlanes(f: Field): Uint8Array {
  const nb = Math.ceil(f.values.length / 8);
  const out = new Uint8Array(f.bits * nb);
  for (let i = 0; i < f.values.length; i++) {
    const v = f.values[i];
    if (v >>> f.bits) throw new Error(`value ${v} at ${i} does not fit in ${f.bits} bits`);
    for (let p = 0; p < f.bits; p++) if ((v >> p) & 1) out[p * nb + (i >> 3)] |= 1 << (i & 7);
  }
  return out;
}

/** Inverse of packPlanes. */
export function unpackPlanes(planes: Uint8Array, bits: number, count: number): Uint8Array {
  const nb = Math.ceil(count / 8);
  if (planes.length !== bits * nb) throw new Error(`${planes.length} plane bytes, expected ${bits}×${nb}`);
  const out = new Uint8Array(count);
  for (let p = 0; p < bits; p++) for (let i = 0; i < count; i++) out[i] |= ((planes[p * nb + (i >> 3)] >> (i & 7)) & 1) << p;
  return out;
}

function param(t: ParamTable, rows: number, cols: number, r: number, c: number, j: number): number {
  return t.data[(r * Math.ceil(cols / t.group) + Math.floor(c / t.group)) * t.k + j];
}

/** Reference decode: float64 arithmetic, one rounding to float32 (what the ONNX subgraph computes). */
export function decodePacked(p: PackedLayer): Float32Array {
  const { rows, cols } = p;
  const out = new Float32Array(rows * cols);
  let bin = 0,
    q8 = 0,
    kept = 0;
  const masks = p.kind === 'nm' ? patternTable(p.m, p.keep) : [];
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      let v: number;
      if (p.kind === 'grid') {
        const z = typeof p.zeros === 'number' ? p.zeros : param(p.zeros, rows, cols, r, c, 0);
        v = (p.codes.values[i] - z) * param(p.scales, rows, cols, r, c, 0);
      } else if (p.kind === 'sparse') {
        const z = typeof p.zeros === 'number' ? p.zeros : param(p.zeros, rows, cols, r, c, 0);
        v = p.keep.values[i] ? (p.codes.values[kept++] - z) * param(p.scales, rows, cols, r, c, 0) : 0;
      } else if (p.kind === 'nm') {
        const z = typeof p.zeros === 'number' ? p.zeros : param(p.zeros, rows, cols, r, c, 0);
        const on = (masks[p.patterns.values[Math.floor(i / p.m)]] >> (i % p.m)) & 1;
        v = on ? (p.codes.values[kept++] - z) * param(p.scales, rows, cols, r, c, 0) : 0;
      } else if (p.kind === 'lut') {
        const idx = p.codes.values[i] + (p.colCodes ? p.colCodes.values[c] << p.codes.bits : 0);
        v = 0;
        for (let j = 0; j < p.params.k; j++) v += p.lut[idx][j] * param(p.params, rows, cols, r, c, j);
      } else if (p.mask.values[i]) {
        v = (2 * p.signs.values[bin++] - 1) * param(p.bin, rows, cols, r, c, 0) + param(p.bin, rows, cols, r, c, 1);
      } else {
        v = (p.codes.values[q8++] - param(p.zeros, rows, cols, r, c, 0)) * param(p.scales, rows, cols, r, c, 0);
      }
      out[i] = v;
    }
  return out;
}
