/**
 * The blocked GEMM behind the Hessian, the Cholesky / triangular inverse, the GPTQ lazy update and
 * relativeError picks its micro-kernel at run time (native/src/core/gemm.cc): AVX-512, AVX2+FMA or a
 * portable C++ fallback; LOWBIT_GEMM_ISA=avx2|generic forces a lower one. Each choice runs in a child
 * process (the choice is made once per process) on the same inputs: AVX-512 and AVX2 must agree bit for
 * bit (same FMA chains in the same order), the no-FMA fallback to rounding. The factorization
 * (blocked Cholesky + right-looking triangular inverse) is checked at a size spanning several blocks.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Hessian, gptq } from '../../../native/ts/index';
import { gptqRef, correlatedX, gaussian } from './linearReference';

const child = `
const { Hessian, gptq, relativeError } = require('./native/ts/index');
const { correlatedX, gaussian } = require('./test/unit/native/linearReference');
(async () => {
  const n = 150, rows = 40, T = 300;
  const h = new Hessian(n);
  await h.add(correlatedX(T, n, 11), T, 2);
  const w = gaussian(rows * n, 12, 0.1);
  const q = await gptq(w, rows, n, h.matrix(), { bits: 4, groupSize: 32, symmetric: false, blockSize: 16 }, { threads: 2 });
  const e = relativeError(w, q.dequant, rows, n, h.matrix(), 2);
  const enc = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
  process.stdout.write(JSON.stringify({ h: enc(h.matrix()), dequant: enc(q.dequant), codes: enc(q.codes), loss: q.loss, e }));
})().catch((err) => { console.error(err); process.exit(1); });
`;

interface Run {
  h: Float64Array;
  dequant: Float32Array;
  codes: Uint8Array;
  loss: number;
  e: number;
}

function run(isa: string | undefined): Run {
  const env = { ...process.env };
  if (isa) env.LOWBIT_GEMM_ISA = isa;
  else delete env.LOWBIT_GEMM_ISA;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', child], { env, encoding: 'utf8', cwd: process.cwd() });
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout);
  const dec = (s: string) => {
    const b = Buffer.from(s, 'base64');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  };
  return {
    h: new Float64Array(dec(o.h)),
    dequant: new Float32Array(dec(o.dequant)),
    codes: new Uint8Array(dec(o.codes)),
    loss: o.loss,
    e: o.e,
  };
}

describe('native GEMM micro-kernel dispatch', () => {
  const best = run(undefined);

  test('AVX2 kernels reproduce the AVX-512 ones bit for bit (Hessian, GPTQ, relativeError)', () => {
    const avx2 = run('avx2');
    assert.deepEqual(avx2.h, best.h);
    assert.deepEqual(avx2.codes, best.codes);
    assert.deepEqual(avx2.dequant, best.dequant);
    assert.equal(avx2.loss, best.loss);
    assert.equal(avx2.e, best.e);
  });

  test('the portable fallback agrees to rounding', () => {
    const gen = run('generic');
    let scale = 0,
      err = 0;
    for (let i = 0; i < best.h.length; i++) {
      scale = Math.max(scale, Math.abs(best.h[i]!));
      err = Math.max(err, Math.abs(gen.h[i]! - best.h[i]!));
    }
    assert.ok(err <= 1e-6 * scale, `Hessian differs by ${err / scale} of max |H|`);
    let same = 0;
    for (let i = 0; i < best.codes.length; i++) same += gen.codes[i] === best.codes[i] ? 1 : 0;
    assert.ok(same >= 0.99 * best.codes.length, `only ${same}/${best.codes.length} codes agree`);
    assert.ok(Math.abs(gen.loss - best.loss) <= 1e-3 * best.loss, `loss ${gen.loss} vs ${best.loss}`);
  });
});

describe('native blocked factorization (n spans several 128-blocks)', () => {
  test('GPTQ at n = 300 matches the float64 sequential reference and is thread-count independent', async () => {
    const rows = 6,
      n = 300,
      T = 400;
    const h = new Hessian(n);
    await h.add(correlatedX(T, n, 21), T);
    const H = Float64Array.from(h.matrix());
    const w = gaussian(rows * n, 22, 0.1);
    for (const o of [
      { groupSize: 64, actOrder: false },
      { groupSize: -1, actOrder: true },
    ]) {
      const opts = { bits: 4, groupSize: o.groupSize, symmetric: false, actOrder: o.actOrder };
      const a = await gptq(w, rows, n, H, opts, { threads: 1 });
      const b = await gptq(w, rows, n, H, opts, { threads: 2 });
      assert.deepEqual(a.dequant, b.dequant);
      assert.equal(a.loss, b.loss);
      const ref = gptqRef(w, rows, n, H, { bits: 4, groupSize: o.groupSize, sym: false, damp: 0.01, actOrder: o.actOrder });
      assert.deepEqual(a.codes, ref.codes);
      for (let i = 0; i < a.dequant.length; i++)
        assert.ok(Math.abs(a.dequant[i]! - ref.dequant[i]!) <= 1e-6 * Math.abs(ref.dequant[i]!), `dequant[${i}]`);
      assert.ok(Math.abs(a.loss - ref.loss) <= 1e-6 * ref.loss, `loss ${a.loss} vs reference ${ref.loss}`);
    }
  });
});
