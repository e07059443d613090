/**
 * Layer-wise AdaRound against BRECQ's (github.com/yhhhli/BRECQ, run in place under /usr/bin/python3 +
 * Debian's python3-torch by bench/adaroundReference.py; found in LOWBIT_BRECQ_REFERENCE or the fetched
 * mirror /work/.mirror/yhhhli+BRECQ): `npm run bench -- adaround`. Same stories260K layers, the same
 * calibration Hessian (8 windows of 128), the same per-row 3-bit RTN grid (BRECQ's quantizer is
 * per channel), the same settings (1000 full-batch steps, λ 0.01, β 20 → 2, warm-up 0.2, Adam lr 0.01).
 * Prints tr(ΔHΔᵀ)/tr(WHWᵀ) of nearest, ours and BRECQ's, the flips of each and how many codes agree.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adaround, relativeError, rtn } from '../native/ts/index';
import { loadModel } from '../engine/onnx/model';
import { calibrateForPlan } from '../engine/job';
import { layerPlans, storiesPlan } from '../test/integration/engine/planFixture';
import { skipNoShared, stories } from '../test/integration/engine/sharedFixtures';

const PYTHON = '/usr/bin/python3';
const MIRROR = '/work/.mirror/yhhhli+BRECQ/repo';
const LAYERS = ['layers.0.wq', 'layers.1.wo', 'layers.2.w2', 'layers.4.w1'];
const SETTINGS = { bits: 3, iterations: 1000, lambda: 0.01, lr: 0.01, warmup: 0.2 };

function findReference(): { root: string; source: string; cleanup?: () => void } | { why: string } {
  const env = process.env.LOWBIT_BRECQ_REFERENCE;
  if (env && existsSync(join(env, 'quant', 'adaptive_rounding.py'))) return { root: env, source: env };
  if (!existsSync(PYTHON)) return { why: `${PYTHON} not found` };
  if (!existsSync(MIRROR)) return { why: `no BRECQ reference: set LOWBIT_BRECQ_REFERENCE or fetch github:yhhhli/BRECQ to ${MIRROR}` };
  const root = mkdtempSync(join(tmpdir(), 'lowbit-brecq-ref-'));
  execFileSync('sh', ['-c', `git --git-dir '${MIRROR}' archive HEAD quant models | tar -x -C '${root}'`]);
  const commit = execFileSync('git', ['--git-dir', MIRROR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  return { root, source: `yhhhli/BRECQ @ ${commit}`, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

const bytes = (a: Float32Array | Float64Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export async function main(): Promise<void> {
  if (skipNoShared) {
    console.log(`skipped: ${skipNoShared}`);
    return;
  }
  const model = await loadModel(stories.model);
  const plan = storiesPlan({ layers: layerPlans('gptq', 3, -1, LAYERS), evaluation: { kind: 'none', metrics: [] } });
  const { stats } = await calibrateForPlan(plan, model, {});
  const ref = findReference();
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-adaround-cmp-'));
  try {
    const problems = [];
    const ours = [];
    for (const name of LAYERS) {
      const { data: w, rows, cols } = model.getWeight(name);
      const H = stats.get(model.layerInput(name))!.hessian.matrix();
      const grid = await rtn(w, rows, cols, { bits: SETTINGS.bits, groupSize: -1, symmetric: false });
      const t0 = performance.now();
      const r = await adaround(w, rows, cols, H, { bits: SETTINGS.bits, groupSize: -1, scales: grid.scales, zeros: grid.zeros }, SETTINGS);
      ours.push({ name, w, rows, cols, H, grid, r, s: (performance.now() - t0) / 1000 });
      writeFileSync(join(dir, `${name}.w.bin`), bytes(w));
      writeFileSync(join(dir, `${name}.h.bin`), bytes(H));
      writeFileSync(join(dir, `${name}.delta.bin`), bytes(grid.scales));
      writeFileSync(join(dir, `${name}.zero.bin`), bytes(Float32Array.from(grid.zeros)));
      problems.push({
        name,
        rows,
        cols,
        bits: SETTINGS.bits,
        iters: SETTINGS.iterations,
        lambda: SETTINGS.lambda,
        lr: SETTINGS.lr,
        warmup: SETTINGS.warmup,
      });
    }
    writeFileSync(join(dir, 'problems.json'), JSON.stringify(problems));
    let note: string;
    let t0 = performance.now();
    if ('root' in ref) {
      try {
        execFileSync(PYTHON, [join(__dirname, 'adaroundReference.py'), ref.root, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
        note = `reference: ${ref.source} (layer-wise AdaRound of quant/), ${((performance.now() - t0) / 1000).toFixed(1)} s for ${LAYERS.length} layers`;
      } catch (e) {
        note = `reference failed to run: ${(e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? String(e)}`;
      }
    } else note = `reference not run: ${ref.why}`;
    console.log(
      `stories260K, w${SETTINGS.bits} per-row RTN grid, ${SETTINGS.iterations} full-batch steps, λ ${SETTINGS.lambda}, lr ${SETTINGS.lr}; ${note}`,
    );
    console.log('| layer | rel_error nearest | ours | BRECQ | flips ours | flips BRECQ | codes equal | ours s |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const o of ours) {
      const f = join(dir, `${o.name}.codes.bin`);
      const near = relativeError(o.w, o.grid.dequant, o.rows, o.cols, o.H),
        mine = relativeError(o.w, o.r.dequant, o.rows, o.cols, o.H);
      let theirs = '—',
        flipsT = '—',
        agree = '—';
      if (existsSync(f)) {
        const codes = new Uint8Array(readFileSync(f));
        const dq = new Float32Array(codes.length);
        let fl = 0,
          eq = 0;
        for (let i = 0; i < codes.length; i++) {
          const r = Math.floor(i / o.cols);
          dq[i] = Math.fround(o.grid.scales[r]! * (codes[i]! - o.grid.zeros[r]!));
          fl += codes[i] !== o.grid.codes[i] ? 1 : 0;
          eq += codes[i] === o.r.codes[i] ? 1 : 0;
        }
        theirs = relativeError(o.w, dq, o.rows, o.cols, o.H).toFixed(5);
        flipsT = String(fl);
        agree = `${((100 * eq) / codes.length).toFixed(2)}%`;
      }
      console.log(
        `| ${o.name} | ${near.toFixed(5)} | ${mine.toFixed(5)} | ${theirs} | ${o.r.flips} | ${flipsT} | ${agree} | ${o.s.toFixed(2)} |`,
      );
    }
    t0 = performance.now();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if ('cleanup' in ref) ref.cleanup?.();
  }
}
