// BiLLM (native/src/core/billm*.cc) against a float64 TypeScript reference written from
// docs/algorithms.md §4a, plus the primitive's closed form, the split search and bit accounting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { billm, billmSearchBlock, binarizeRow, decodeBillm } from '../../../native/ts/binaryLowRank';
import { centeredLcg } from '../../fixtures/lcg';

/** Reference residual binarization over masked entries (tie w = μ → +α). */
function refBinarize(w: ArrayLike<number>, mask: ArrayLike<number> | null, order: number): Float64Array {
  const n = w.length,
    res = Float64Array.from(w),
    acc = new Float64Array(n);
  const on = (j: number) => !mask || mask[j] === 1;
  for (let o = 0; o < order; o++) {
    let cnt = 0,
      mu = 0,
      a = 0;
    for (let j = 0; j < n; j++)
      if (on(j)) {
        mu += res[j]!;
        cnt++;
      }
    if (!cnt) break;
    mu /= cnt;
    for (let j = 0; j < n; j++) if (on(j)) a += Math.abs(res[j]! - mu);
    a /= cnt;
    for (let j = 0; j < n; j++)
      if (on(j)) {
        const b = (res[j]! - mu >= 0 ? a : -a) + mu;
        acc[j]! += b;
        res[j]! -= b;
      }
  }
  return acc;
}
function maskedErr(S: Float64Array, rows: number, cnt: number, masks: Uint8Array[], orders: number[]): number {
  let e = 0;
  for (let r = 0; r < rows; r++) {
    const s = S.subarray(r * cnt, (r + 1) * cnt),
      approx = new Float64Array(cnt);
    masks.forEach((m, i) => {
      const mk = m.subarray(r * cnt, (r + 1) * cnt),
        p = refBinarize(s, mk, orders[i]!);
      for (let j = 0; j < cnt; j++) if (mk[j]) approx[j]! += p[j]!;
    });
    for (let j = 0; j < cnt; j++) e += (s[j]! - approx[j]!) ** 2;
  }
  return e;
}
function quantile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1),
    lo = Math.floor(pos),
    hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}
/** Reference structural search (salient k, then the 81-quantile split). */
function refSearch(S: Float64Array, rows: number, cnt: number, upLim: number) {
  const score = new Array<number>(cnt).fill(0);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cnt; j++) score[j]! += Math.abs(S[r * cnt + j]!);
  const order = [...score.keys()].sort((a, b) => score[b]! - score[a]! || a - b);
  let best = Infinity,
    bestK = 1;
  for (let k = 1; k <= Math.min(upLim - 1, cnt); k++) {
    const col = new Uint8Array(cnt);
    order.slice(0, k).forEach((c) => (col[c] = 1));
    const m1 = new Uint8Array(rows * cnt),
      m0 = new Uint8Array(rows * cnt);
    for (let t = 0; t < rows * cnt; t++) {
      m1[t] = col[t % cnt]!;
      m0[t] = 1 - col[t % cnt]!;
    }
    const e = maskedErr(S, rows, cnt, [m1, m0], [2, 2]);
    if (e < best) {
      best = e;
      bestK = k;
    }
  }
  const sal = new Uint8Array(cnt);
  order.slice(0, bestK).forEach((c) => (sal[c] = 1));
  const flat = Array.from({ length: rows * cnt }, (_, t) => (sal[t % cnt] ? 0 : Math.abs(S[t]!)));
  const sorted = [...flat].sort((a, b) => a - b);
  const m3 = Uint8Array.from({ length: rows * cnt }, (_, t) => sal[t % cnt]!);
  const errors: number[] = [];
  let split = 0;
  best = Infinity;
  for (let i = 0; i <= 80; i++) {
    const p = quantile(sorted, 0.1 + 0.01 * i);
    const m2 = Uint8Array.from(flat, (v, t) => (!m3[t] && v >= p ? 1 : 0));
    const m1 = Uint8Array.from(flat, (v, t) => (!m3[t] && v < p ? 1 : 0));
    const e = maskedErr(S, rows, cnt, [m1, m2, m3], [1, 1, 2]);
    errors.push(e);
    if (e < best) {
      best = e;
      split = p;
    }
  }
  return { sal, k: bestK, split, errors };
}
function correlatedHessian(cols: number, T: number, r: () => number): Float64Array {
  const X = new Float64Array(T * cols);
  for (let t = 0; t < T; t++) {
    let prev = 0;
    for (let c = 0; c < cols; c++) {
      prev = 0.6 * prev + r();
      X[t * cols + c] = prev;
    }
  }
  const H = new Float64Array(cols * cols);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < cols; i++) {
      const xi = X[t * cols + i]!;
      for (let j = 0; j < cols; j++) H[i * cols + j]! += (2 * xi * X[t * cols + j]!) / T;
    }
  return H;
}
function identity(n: number, c = 1): Float64Array {
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) h[i * n + i] = c;
  return h;
}

describe('binarizeRow', () => {
  test('closed-form μ = mean, α = mean|w − μ| on a small row', () => {
    const w = Float64Array.from([0.5, -1.25, 2, 0.25, -0.5]);
    const mu = (0.5 - 1.25 + 2 + 0.25 - 0.5) / 5;
    const alpha = w.reduce((s, v) => s + Math.abs(v - mu), 0) / 5;
    const r = binarizeRow(w, null, 1);
    assert.ok(Math.abs(r.mus[0]! - mu) < 1e-15 && Math.abs(r.alphas[0]! - alpha) < 1e-15);
    w.forEach((v, j) => assert.ok(Math.abs(r.values[j]! - ((v >= mu ? alpha : -alpha) + mu)) < 1e-15));
  });

  test('masked entries only; order 2 never worse than order 1', () => {
    const r = centeredLcg(1);
    for (let t = 0; t < 20; t++) {
      const w = Float64Array.from({ length: 64 }, r);
      const mask = Uint8Array.from({ length: 64 }, () => (r() > -0.2 ? 1 : 0));
      const e = (o: number) => {
        const v = binarizeRow(w, mask, o).values,
          ref = refBinarize(w, mask, o);
        let err = 0;
        w.forEach((x, j) => {
          if (mask[j]) {
            err += (x - v[j]!) ** 2;
            assert.ok(Math.abs(v[j]! - ref[j]!) < 1e-12);
          } else assert.equal(v[j], 0);
        });
        return err;
      };
      assert.ok(e(2) <= e(1) + 1e-12);
    }
  });
});

describe('billmSearchBlock', () => {
  test('salient k and split match the reference; the split is the best of the 81 candidates', () => {
    const r = centeredLcg(2),
      rows = 12,
      cnt = 40;
    const S = Float64Array.from({ length: rows * cnt }, (_, t) => (r() * (1 + (t % cnt === 3 ? 6 : 0))) ** 2);
    const got = billmSearchBlock(S, rows, cnt, 20);
    const ref = refSearch(S, rows, cnt, 20);
    assert.equal(got.k, ref.k);
    assert.deepEqual([...got.salient], [...ref.sal]);
    assert.equal(got.splitErrors.length, 81);
    got.splitErrors.forEach((e, i) => assert.ok(Math.abs(e - ref.errors[i]!) <= 1e-9 * ref.errors[i]!, `candidate ${i}`));
    assert.equal(got.splitErrors[got.bestSplit], Math.min(...got.splitErrors));
    assert.ok(Math.abs(got.split - ref.split) < 1e-15);
  });
});

describe('billm', () => {
  test('H = I (no propagation) equals the float64 reference block by block', async () => {
    const r = centeredLcg(4),
      rows = 16,
      cols = 150,
      B = 64;
    const w = Float32Array.from({ length: rows * cols }, r);
    const res = await billm(w, rows, cols, identity(cols), { blockSize: B, salientUpLim: 20, fp16Scales: false });
    const d2 = 1 / 1.01; // U = I/sqrt(1 + percdamp) ⇒ U_jj² = 1/1.01
    for (let i1 = 0, b = 0; i1 < cols; i1 += B, b++) {
      const cnt = Math.min(cols, i1 + B) - i1;
      const W1 = new Float64Array(rows * cnt),
        S = new Float64Array(rows * cnt);
      for (let x = 0; x < rows; x++)
        for (let j = 0; j < cnt; j++) {
          const v = w[x * cols + i1 + j]!;
          W1[x * cnt + j] = v;
          S[x * cnt + j] = (v * v) / d2;
        }
      const ref = refSearch(S, rows, cnt, 20);
      assert.ok(Math.abs(res.details.split_points[b]! - ref.split) <= 1e-12 * Math.max(1, ref.split), `block ${b} split`);
      for (let x = 0; x < rows; x++) {
        const row = W1.subarray(x * cnt, (x + 1) * cnt),
          s = S.subarray(x * cnt, (x + 1) * cnt);
        const m3 = Uint8Array.from(ref.sal),
          m2 = Uint8Array.from(s, (v, j) => (!ref.sal[j] && Math.abs(v) >= ref.split ? 1 : 0));
        const m1 = Uint8Array.from(s, (v, j) => (!ref.sal[j] && Math.abs(v) < ref.split ? 1 : 0));
        const q = new Float64Array(cnt);
        (
          [
            [m1, 1],
            [m2, 1],
            [m3, 2],
          ] as const
        ).forEach(([m, o]) => {
          const p = refBinarize(row, m, o);
          for (let j = 0; j < cnt; j++) if (m[j]) q[j] = p[j]!;
        });
        for (let j = 0; j < cnt; j++) {
          const got = res.dequant[x * cols + i1 + j]!;
          assert.ok(Math.abs(got - q[j]!) < 1e-6, `row ${x} col ${i1 + j}: ${got} vs ${q[j]}`);
        }
      }
    }
  });

  test('stored form decodes to the output; bit accounting; report details', async () => {
    const r = centeredLcg(6),
      rows = 24,
      cols = 200;
    const w = Float32Array.from({ length: rows * cols }, r);
    const H = correlatedHessian(cols, 300, r);
    const res = await billm(w, rows, cols, H, {});
    assert.deepEqual(decodeBillm(res.stored, rows, cols, 128), res.dequant);
    const d = res.details,
      nSal = d.salient_columns.length;
    assert.equal(d.split_points.length, 2);
    assert.ok(Math.abs(d.bits_claimed - (1 + nSal / cols)) < 1e-12);
    // Per row per block: sign + group bits, 8 fp16 scales; per block a shared column mask.
    const stored = rows * (2 * 128 + 128) + 128 + rows * (2 * 72 + 128) + 72;
    assert.ok(Math.abs(d.bits_stored - stored / (rows * cols)) < 1e-12);
    assert.equal(d.saliency.rows, 24);
    assert.equal(d.saliency.cols, 64);
    assert.equal(d.saliency.values.length, 24 * 64);
    assert.equal(d.column_profile.length, 200);
    assert.ok(d.salient_columns.every((c, i, a) => c >= 0 && c < cols && (i === 0 || a[i - 1]! !== c)));
    for (let i = 0; i < res.stored.scales.length; i++) {
      const v = res.stored.scales[i]!; // fp16-representable: 11 significant bits
      const e = v === 0 ? 0 : Math.floor(Math.log2(Math.abs(v)));
      assert.ok(Number.isInteger(v / 2 ** (e - 10)), `scale ${v} is not fp16`);
    }
    // Levels per row-block: at most 2 + 2 + 4 distinct values.
    const levels = new Set<number>();
    for (let c = 0; c < 128; c++) levels.add(res.dequant[c]!);
    assert.ok(levels.size <= 8);
  });

  test('deterministic across thread counts; exact mode differs and cancel works', async () => {
    const r = centeredLcg(8),
      rows = 64,
      cols = 256;
    const w = Float32Array.from({ length: rows * cols }, r);
    const H = correlatedHessian(cols, 300, r);
    const a = await billm(w, rows, cols, H, { threads: 1 });
    const b = await billm(w, rows, cols, H, { threads: 2 });
    assert.deepEqual(a.dequant, b.dequant);
    const ex = await billm(w, rows, cols, H, { exact: true });
    // With a diagonal Hessian there is nothing to feed back: exact mode equals faithful mode.
    const fI = await billm(w, rows, cols, identity(cols, 3)),
      eI = await billm(w, rows, cols, identity(cols, 3), { exact: true });
    assert.deepEqual(eI.dequant, fI.dequant);
    assert.notDeepEqual(ex.dequant, a.dequant);
    assert.ok(Number.isFinite(ex.loss) && ex.loss > 0);
    const big = 768,
      wb = Float32Array.from({ length: rows * big }, r);
    const ac = new AbortController();
    const progress: number[] = [];
    await assert.rejects(
      billm(wb, rows, big, identity(big), {
        blockSize: 8,
        signal: ac.signal,
        onProgress: (f) => {
          progress.push(f);
          ac.abort();
        },
      }),
      { code: 'E_CANCELLED' },
    );
    assert.ok(progress.length >= 1 && progress[0]! < 0.1);
  });

  test('rejects a Hessian of the wrong size with a clear message', async () => {
    await assert.rejects(billm(new Float32Array(6), 2, 3, new Float64Array(4), { layer: 'layers.0.wq' }), /billm H: expected 3×3/);
  });

  test('hessianSaliency false (salient_metric magnitude): S = W, so the column profile is Σ_rows |w| (one block)', async () => {
    const r = centeredLcg(21),
      rows = 16,
      cols = 64;
    const w = Float32Array.from({ length: rows * cols }, (_, i) => r() * (i % cols === 9 ? 6 : 1));
    const H = new Float64Array(cols * cols);
    for (let i = 0; i < cols; i++) H[i * cols + i] = 1 + (i % 5);
    const mag = await billm(w, rows, cols, H, { hessianSaliency: false });
    const hes = await billm(w, rows, cols, H, {});
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let x = 0; x < rows; x++) s += Math.abs(w[x * cols + c]!);
      assert.ok(Math.abs(mag.details.column_profile[c]! - s) < 1e-9 * s, `column ${c}: ${mag.details.column_profile[c]} vs ${s}`);
    }
    assert.ok(mag.details.salient_columns.includes(9), 'the largest column is salient by magnitude');
    assert.notDeepEqual(mag.details.column_profile, hes.details.column_profile);
  });
});
