// PB-LLM (native/src/core/pbllm.cc) against a float64 TypeScript reference with H = I (no GPTQ
// feedback), plus mask fraction, bit accounting and feedback on a correlated Hessian.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hessianInverseFactor, pbllm } from '../../../native/ts/binaryLowRank';
import { centeredLcg } from '../../fixtures/lcg';

function identity(n: number): Float64Array {
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) h[i * n + i] = 1;
  return h;
}

describe('pbllm', () => {
  test('H = I: binarizes the least salient fraction, 8-bit elsewhere (float64 reference)', async () => {
    const r = centeredLcg(1),
      rows = 12,
      cols = 40,
      lowFrac = 0.75;
    const w = Float32Array.from({ length: rows * cols }, r);
    const res = await pbllm(w, rows, cols, identity(cols), { lowFrac });
    // Saliency w²/U_jj² with constant U_jj ⇒ rank by |w|; stable order on ties.
    const idx = [...w.keys()].sort((a, b) => w[a]! ** 2 - w[b]! ** 2 || a - b);
    const nlow = Math.round(lowFrac * rows * cols);
    const mask = new Uint8Array(rows * cols);
    idx.slice(0, nlow).forEach((i) => (mask[i] = 1));
    assert.deepEqual([...res.mask], [...mask]);
    for (let x = 0; x < rows; x++) {
      const row = [...w.subarray(x * cols, (x + 1) * cols)],
        m = mask.subarray(x * cols, (x + 1) * cols);
      const mu = row.reduce((s, v, j) => s + (m[j] ? v : 0), 0) / cols; // zeros at salient included
      const alpha = row.reduce((s, v, j) => s + Math.abs((m[j] ? v : 0) - mu), 0) / cols;
      const lo = Math.min(0, ...row),
        hi = Math.max(0, ...row);
      const scale = Math.fround((hi - lo) / 255),
        zero = Math.round(-lo / scale);
      row.forEach((v, j) => {
        const q = m[j]
          ? Math.fround((v - Math.fround(mu) >= 0 ? Math.fround(alpha) : -Math.fround(alpha)) + Math.fround(mu))
          : scale * (Math.min(255, Math.max(0, Math.round(v / scale) + zero)) - zero);
        assert.ok(Math.abs(res.dequant[x * cols + j]! - q) < 1e-6, `row ${x} col ${j}: ${res.dequant[x * cols + j]} vs ${q}`);
      });
    }
    assert.ok(Math.abs(res.bitsClaimed - (0.75 + 8 * 0.25)) < 1e-12);
    assert.ok(Math.abs(res.bitsStored - (0.75 + 2 + 1 + (3 * 32 + 8) / cols)) < 1e-12);
  });

  test('GPTQ feedback lowers the layer-output error on a correlated Hessian', async () => {
    const r = centeredLcg(2),
      rows = 32,
      cols = 96,
      T = 400;
    const X = new Float64Array(T * cols);
    for (let t = 0; t < T; t++) {
      let p = 0;
      for (let c = 0; c < cols; c++) {
        p = 0.8 * p + r();
        X[t * cols + c] = p;
      }
    }
    const H = new Float64Array(cols * cols);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 * X[t * cols + i]! * X[t * cols + j]!) / T;
    const w = Float32Array.from({ length: rows * cols }, r);
    const trErr = (q: Float32Array) => {
      let s = 0;
      for (let x = 0; x < rows; x++)
        for (let i = 0; i < cols; i++) {
          const di = w[x * cols + i]! - q[x * cols + i]!;
          for (let j = 0; j < cols; j++) s += di * H[i * cols + j]! * (w[x * cols + j]! - q[x * cols + j]!);
        }
      return s;
    };
    const fb = await pbllm(w, rows, cols, H, { lowFrac: 0.9, hessianSaliency: false });
    const plain = await pbllm(w, rows, cols, identity(cols), { lowFrac: 0.9, hessianSaliency: false });
    assert.deepEqual(fb.mask, plain.mask, '|w| saliency gives the same mask');
    assert.ok(trErr(fb.dequant) < trErr(plain.dequant), `${trErr(fb.dequant)} vs ${trErr(plain.dequant)}`);
  });

  test('two-column closed form of the GPTQ update: w₂′ = w₂ + (b/c)(w₁ − q₁)', async () => {
    const [a, b, c] = [2, 0.9, 1.5];
    const H = Float64Array.from([a, b, b, c]);
    const w = Float32Array.from([0.3137, -0.7311, -0.2219, 0.5903]); // 2 rows × 2 cols
    const res = await pbllm(w, 2, 2, H, { lowFrac: 0, percdamp: 0 });
    for (let x = 0; x < 2; x++) {
      const w1 = w[x * 2]!,
        w2 = w[x * 2 + 1]!;
      const lo = Math.min(0, w1, w2),
        hi = Math.max(0, w1, w2);
      const s = Math.fround((hi - lo) / 255),
        z = Math.round(-lo / s);
      const rtn = (v: number) => s * (Math.min(255, Math.max(0, Math.round(v / s) + z)) - z);
      const q1 = rtn(w1),
        q2 = rtn(w2 + (b / c) * (w1 - Math.fround(q1)));
      assert.ok(Math.abs(res.dequant[x * 2]! - q1) < 1e-7 && Math.abs(res.dequant[x * 2 + 1]! - q2) < 1e-7, `row ${x}`);
    }
  });

  test('inverse-Hessian factor: U upper, UᵀU·(H + damp·I) = I, dead columns flagged', () => {
    const r = centeredLcg(5),
      n = 30,
      T = 80,
      X = Float64Array.from({ length: T * n }, r),
      H = new Float64Array(n * n);
    for (let t = 0; t < T; t++)
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) H[i * n + j]! += (2 * X[t * n + i]! * X[t * n + j]!) / T;
    for (let i = 0; i < n; i++) {
      H[i * n + 7] = 0;
      H[7 * n + i] = 0;
    } // dead column 7
    const { U, dead } = hessianInverseFactor(H, n, 0.01);
    assert.deepEqual(
      [...dead].map((v, i) => (v ? i : -1)).filter((i) => i >= 0),
      [7],
    );
    H[7 * n + 7] = 1;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += H[i * n + i]! / n;
    for (let i = 0; i < n; i++) H[i * n + i]! += 0.01 * mean;
    for (let i = 0; i < n; i++) {
      assert.ok(U[i * n + i]! > 0);
      for (let j = 0; j < i; j++) assert.equal(U[i * n + j], 0);
    }
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        // (UᵀU)·H = I
        let s = 0;
        for (let k = 0; k < n; k++) {
          let m = 0;
          for (let t = 0; t < n; t++) m += U[t * n + i]! * U[t * n + k]!;
          s += m * H[k * n + j]!;
        }
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-9, `[${i},${j}] = ${s}`);
      }
  });

  test('rejects lowFrac outside [0, 1]', async () => {
    await assert.rejects(pbllm(new Float32Array(4), 2, 2, identity(2), { lowFrac: 1.5 }), /lowFrac/);
  });

  test('highBits: the unbinarized entries sit on a 2^b − 1 level grid; bits follow', async () => {
    const r = centeredLcg(7),
      rows = 8,
      cols = 48,
      lowFrac = 0.5,
      highBits = 3;
    const w = Float32Array.from({ length: rows * cols }, r);
    const res = await pbllm(w, rows, cols, identity(cols), { lowFrac, highBits });
    const full = await pbllm(w, rows, cols, identity(cols), { lowFrac });
    assert.deepEqual([...res.mask], [...full.mask], 'the mask does not depend on highBits');
    let off = 0;
    for (let x = 0; x < rows; x++) {
      const [scale, zero] = [res.q8Params[2 * x]!, res.q8Params[2 * x + 1]!];
      const row = [...w.subarray(x * cols, (x + 1) * cols)];
      assert.ok(Math.abs(scale - Math.fround((Math.max(0, ...row) - Math.min(0, ...row)) / 7)) < 1e-7, `row ${x} scale ${scale}`);
      for (let j = 0; j < cols; j++) {
        if (res.mask[x * cols + j]) continue;
        const code = Math.round(res.dequant[x * cols + j]! / scale) + zero;
        assert.ok(code >= 0 && code <= 7, `row ${x} col ${j}: code ${code}`);
        off = Math.max(off, Math.abs(res.dequant[x * cols + j]! - scale * (code - zero)));
      }
    }
    assert.ok(off < 1e-6, `off-grid by ${off}`);
    assert.ok(Math.abs(res.bitsClaimed - (lowFrac + highBits * (1 - lowFrac))) < 1e-12);
    await assert.rejects(pbllm(w, rows, cols, identity(cols), { highBits: 9 }), /highBits must be an integer in 2\.\.8/);
  });
});
