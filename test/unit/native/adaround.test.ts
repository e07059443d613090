import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { adaround, adaroundLossGrad, rtn, gptq, Hessian, LowbitKernelError } from '../../../native/ts/index';
import { correlatedX, gaussian, traceForm } from './linearReference';

// Float64 reference of layer-wise AdaRound's objective (Nagel et al. 2020, Eq. 21–24; BRECQ's
// AdaRoundQuantizer): h = clip(σ(V)(ζ−γ)+γ, 0, 1), Ŵ = s(clamp(⌊W/s⌋ + h + z, 0, maxq) − z),
// rec = ½·tr(ΔHΔᵀ), reg = λΣ(1 − |2h−1|^β).
const ZETA = 1.1,
  GAMMA = -0.1;
function lossRef(
  w: Float32Array,
  rows: number,
  cols: number,
  H: Float64Array,
  grid: { bits: number; groupSize: number; scales: Float32Array; zeros: Uint8Array },
  V: Float64Array,
  lambda: number,
  beta: number,
): { rec: number; reg: number } {
  const g = grid.groupSize,
    ng = Math.ceil(cols / g),
    maxq = 2 ** grid.bits - 1;
  const d = new Float64Array(rows * cols);
  let reg = 0;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const j = r * cols + c,
        k = r * ng + Math.floor(c / g);
      const s = grid.scales[k]!,
        z = grid.zeros[k]!;
      const h = Math.min(1, Math.max(0, (1 / (1 + Math.exp(-V[j]!))) * (ZETA - GAMMA) + GAMMA));
      const x = Math.min(maxq, Math.max(0, Math.floor(w[j]! / s) + h + z));
      d[j] = w[j]! - s * (x - z);
      reg += 1 - Math.pow(Math.abs(2 * h - 1), beta);
    }
  return { rec: 0.5 * traceForm(d, rows, cols, H), reg: lambda * reg };
}

async function problem(rows: number, cols: number, seed: number, bits: number, groupSize: number) {
  const w = gaussian(rows * cols, seed, 0.05);
  const h = new Hessian(cols);
  await h.add(correlatedX(4 * cols, cols, seed + 7), 4 * cols);
  const q = await rtn(w, rows, cols, { bits, groupSize, symmetric: false });
  return { w, H: h.matrix(), q, grid: { bits, groupSize: q.groupSize, scales: q.scales, zeros: q.zeros } };
}

describe('native adaround', () => {
  test('loss equals the float64 reference; the hand-derived gradient matches central differences', async () => {
    const rows = 6,
      cols = 40;
    const { w, H, grid } = await problem(rows, cols, 3, 3, 16);
    const base = adaroundLossGrad(w, rows, cols, H, grid, new Float64Array(rows * cols), { beta: 20, withReg: false });
    const V = Float64Array.from(base.init, (v, i) => v + 0.3 * Math.sin(i)); // away from the init, h inside (0, 1)
    for (const [lambda, beta, withReg] of [
      [0.01, 20, false],
      [0.05, 8, true],
      [1, 2.5, true],
    ] as const) {
      const r = adaroundLossGrad(w, rows, cols, H, grid, V, { lambda, beta, withReg });
      const ref = lossRef(w, rows, cols, H, grid, V, lambda, beta);
      assert.ok(Math.abs(r.rec - ref.rec) <= 1e-9 * Math.abs(ref.rec), `rec ${r.rec} vs ${ref.rec}`);
      assert.ok(Math.abs(r.reg - (withReg ? ref.reg : 0)) <= 1e-9 * Math.abs(ref.reg), `reg ${r.reg} vs ${ref.reg}`);
      const eps = 1e-6;
      let worst = 0,
        scale = 0;
      for (let j = 0; j < rows * cols; j += 7) {
        const vp = Float64Array.from(V),
          vm = Float64Array.from(V);
        vp[j] = vp[j]! + eps;
        vm[j] = vm[j]! - eps;
        const lp = lossRef(w, rows, cols, H, grid, vp, lambda, beta),
          lm = lossRef(w, rows, cols, H, grid, vm, lambda, beta);
        const fd = (lp.rec + (withReg ? lp.reg : 0) - lm.rec - (withReg ? lm.reg : 0)) / (2 * eps);
        worst = Math.max(worst, Math.abs(fd - r.grad[j]!));
        scale = Math.max(scale, Math.abs(fd));
      }
      assert.ok(scale > 0, 'a non-trivial gradient');
      assert.ok(worst <= 1e-5 * scale, `λ ${lambda} β ${beta}: gradient off by ${worst} (largest ${scale})`);
    }
  });

  test('at infinite temperature (no steps, or lr 0 with λ 0) the hard-thresholded init equals RTN', async () => {
    const rows = 12,
      cols = 100;
    const { w, H, q, grid } = await problem(rows, cols, 5, 4, 32);
    for (const opts of [{ iterations: 0 }, { iterations: 50, lr: 0, lambda: 0 }]) {
      const r = await adaround(w, rows, cols, H, grid, opts);
      assert.deepEqual(r.codes, q.codes, JSON.stringify(opts));
      assert.deepEqual(r.dequant, q.dequant);
      assert.equal(r.flips, 0);
      assert.ok(Math.abs(r.loss - r.lossNearest) <= 1e-12 * r.lossNearest);
    }
  });

  test('learned rounding beats nearest on tr(ΔHΔᵀ) on random problems (RTN and GPTQ grids), with flips counted', async () => {
    for (const [seed, bits, gs] of [
      [1, 4, 32],
      [2, 3, 16],
      [3, 2, -1],
    ] as const) {
      const rows = 16,
        cols = 64;
      const { w, H, grid } = await problem(rows, cols, seed, bits, gs);
      const r = await adaround(w, rows, cols, H, grid, { iterations: 500, lr: 1e-2 });
      const d = Float64Array.from(w, (v, i) => v - r.dequant[i]!);
      assert.ok(Math.abs(traceForm(d, rows, cols, H) - r.loss) <= 1e-9 * r.loss, 'reported loss = tr(ΔHΔᵀ) of the result');
      assert.ok(r.loss < r.lossNearest, `seed ${seed}: adaround ${r.loss} vs nearest ${r.lossNearest}`);
      let flips = 0;
      const q = await rtn(w, rows, cols, { bits, groupSize: gs, symmetric: false });
      for (let i = 0; i < w.length; i++) flips += r.codes[i] !== q.codes[i] ? 1 : 0;
      assert.equal(r.flips, flips);
      assert.ok(flips > 0);
      for (const c of r.codes) assert.ok(c <= 2 ** bits - 1);
      // GPTQ's grid (its own scales/zeros): AdaRound on it is at most as bad as nearest on it.
      const g = await gptq(w, rows, cols, H, { bits, groupSize: gs, symmetric: false });
      const ra = await adaround(
        w,
        rows,
        cols,
        H,
        { bits, groupSize: g.groupSize, scales: g.scales, zeros: g.zeros },
        { iterations: 300, lr: 1e-2 },
      );
      assert.ok(ra.loss < ra.lossNearest);
    }
  });

  test('deterministic over thread counts; bad inputs named', async () => {
    const rows = 8,
      cols = 48;
    const { w, H, grid } = await problem(rows, cols, 9, 4, 16);
    const a = await adaround(w, rows, cols, H, grid, { iterations: 40 }, { threads: 1 });
    const b = await adaround(w, rows, cols, H, grid, { iterations: 40 }, { threads: 3 });
    assert.deepEqual(a.codes, b.codes);
    assert.equal(a.loss, b.loss);
    const badH = Float64Array.from(H);
    badH[5 * cols + 2] = Infinity;
    await assert.rejects(
      adaround(w, rows, cols, badH, grid, {}),
      (e: LowbitKernelError) => e.code === 'E_NUMERIC' && /row 5, column 2/.test(e.message),
    );
    const badS = Float32Array.from(grid.scales);
    badS[3] = 0;
    await assert.rejects(adaround(w, rows, cols, H, { ...grid, scales: badS }, {}), /scale of row 1, group 0/);
    await assert.rejects(adaround(w, rows, cols, H, { ...grid, zeros: new Uint8Array(3) }, {}), /zeros must be/);
    await assert.rejects(adaround(w, rows, cols, H, grid, { warmup: 2 }), /warmup/);
  });
});
