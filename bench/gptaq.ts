/**
 * GPTAQ against its authors: `npm run bench -- gptaq` builds one layer with float inputs x and
 * quantized-prefix inputs x̃ = 1.05·x + noise (LOWBIT_BENCH_GPTAQ_N columns, default 256; rows the
 * same; 1024 tokens), accumulates H and D with our kernels, and quantizes it with our GPTAQ and with
 * the authors' fasterquant run in place (bench/gptaqReference.py: fetched repository
 * Intelligent-Computing-Lab-Yale/GPTAQ + Debian python3-torch under /usr/bin/python3; the bench says
 * so plainly when either is missing). Prints the share of equal codes, ‖WX − QX̃‖² of both, and GPTQ's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CrossStatistic, Hessian, gptaq, gptq } from '../native/ts/index';
import { correlatedX, gaussian } from '../test/unit/native/linearReference';

const PYTHON = '/usr/bin/python3';
const MIRROR = '/work/.mirror/Intelligent-Computing-Lab-Yale+GPTAQ/repo';

/** The authors' fake_quant folder: LOWBIT_GPTAQ_REFERENCE, ../GPTAQ next to the checkout, or the fetched mirror (extracted). */
function findReference(): { dir: string; source: string; cleanup?: () => void } | { why: string } {
  const sibling = resolve(__dirname, '..', '..', 'GPTAQ');
  for (const dir of [process.env.LOWBIT_GPTAQ_REFERENCE, sibling])
    if (dir && existsSync(join(dir, 'fake_quant', 'gptaq_utils.py'))) return { dir: join(dir, 'fake_quant'), source: dir };
  if (existsSync(MIRROR)) {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-gptaq-ref-'));
    for (const f of ['gptaq_utils.py', 'quant_utils.py'])
      writeFileSync(join(dir, f), execFileSync('git', ['--git-dir', MIRROR, 'show', `HEAD:fake_quant/${f}`]));
    const commit = execFileSync('git', ['--git-dir', MIRROR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    return { dir, source: `${MIRROR} @ ${commit}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
  return {
    why: `the GPTAQ authors' repository is not present (looked in LOWBIT_GPTAQ_REFERENCE, ${sibling} and ${MIRROR}); get it with: git clone https://github.com/Intelligent-Computing-Lab-Yale/GPTAQ ${sibling}`,
  };
}

function asymError(w: Float32Array, q: Float32Array, rows: number, n: number, x: Float32Array, xq: Float32Array): number {
  const T = x.length / n;
  let s = 0;
  for (let r = 0; r < rows; r++)
    for (let t = 0; t < T; t++) {
      let v = 0;
      for (let j = 0; j < n; j++) v += w[r * n + j]! * x[t * n + j]! - q[r * n + j]! * xq[t * n + j]!;
      s += v * v;
    }
  return s / T;
}

/** Runs the comparison and prints its lines. */
export async function main(): Promise<void> {
  const n = Number(process.env.LOWBIT_BENCH_GPTAQ_N) || 256,
    rows = n,
    T = 1024;
  const x = correlatedX(T, n, 3),
    e = gaussian(T * n, 4, 0.05);
  const xq = x.map((v, i) => 1.05 * v + e[i]!);
  const H = new Hessian(n),
    D = new CrossStatistic(n);
  await H.add(xq, T);
  D.add(x, xq, T);
  const w = gaussian(rows * n, 5, 0.1);
  for (const [bits, groupSize] of [
    [4, 128],
    [3, -1],
  ] as const) {
    const o = { bits, groupSize, symmetric: false, blockSize: 128 };
    const ours = await gptaq(w, rows, n, H, D, { ...o, fp64Updates: true });
    const plain = await gptq(w, rows, n, H, o);
    const line = `gptaq ${rows}x${n} w${bits} g${groupSize}: ours ‖WX−QX̃‖²/T ${asymError(w, ours.dequant, rows, n, x, xq).toFixed(4)}, GPTQ ${asymError(w, plain.dequant, rows, n, x, xq).toFixed(4)}`;
    const ref = findReference();
    if ('why' in ref) {
      console.log(`${line}; authors' code not run: ${ref.why}`);
      continue;
    }
    const data = mkdtempSync(join(tmpdir(), 'lowbit-gptaq-data-'));
    try {
      if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is not installed`);
      writeFileSync(join(data, 'w.f32'), w);
      writeFileSync(join(data, 'h.f64'), H.matrix());
      writeFileSync(join(data, 'd.f64'), D.matrix());
      execFileSync(
        PYTHON,
        [resolve(__dirname, 'gptaqReference.py'), ref.dir, data, String(rows), String(n), String(bits), String(groupSize), '128'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const b = readFileSync(join(data, 'q.f32'));
      const theirs = new Float32Array(b.buffer, b.byteOffset, rows * n);
      let same = 0,
        maxDiff = 0;
      for (let i = 0; i < rows * n; i++) {
        const d = Math.abs(theirs[i]! - ours.dequant[i]!);
        if (d <= 1e-6 * Math.max(1e-6, Math.abs(theirs[i]!))) same++;
        maxDiff = Math.max(maxDiff, d);
      }
      console.log(
        `${line}, authors' fasterquant (${ref.source}, fp32 torch) ${asymError(w, theirs, rows, n, x, xq).toFixed(4)}; equal values ${((100 * same) / (rows * n)).toFixed(2)}% (max |Δ| ${maxDiff.toExponential(2)})`,
      );
    } catch (err) {
      console.log(`${line}; authors' code failed to run: ${(err as Error).message.split('\n')[0]}`);
    } finally {
      rmSync(data, { recursive: true, force: true });
      ref.cleanup?.();
    }
  }
}
