/**
 * HQQ against its authors' code: `npm run bench -- hqq`. Our HQQ (native) and the authors' quantizer
 * (github.com/mobiusml/hqq, run in place under /usr/bin/python3 + Debian's python3-torch by
 * bench/hqqReference.py; found in LOWBIT_HQQ_REFERENCE or the fetched mirror /work/.mirror/mobiusml+hqq)
 * on stories260K's 35 body layers at the same bits and group size; the LM head stays fp32. Per layer:
 * the HQQ objective mean|ΔW| and ‖ΔW‖²/‖W‖²; per model: perplexity with the project's evaluation
 * (64 windows of 128 tokens from token 0, as in docs/results.md). When the reference or its Python
 * is missing, the lines say so and only our rows are printed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hqq, rtn } from '../native/ts/index';
import { loadModel } from '../engine/onnx/model';
import { fakeQuantBytes } from '../engine/exportStep';
import { evaluateText } from '../engine/evaluate/evaluateText';
import { textWindows } from '../engine/data/text';
import { BODY_LAYERS } from './qualityConfigs';
import { skipNoShared, stories } from '../test/integration/engine/sharedFixtures';

const PYTHON = '/usr/bin/python3';
const MIRROR = '/work/.mirror/mobiusml+hqq/repo';
const GROUP = 32;

function findReference(): { root: string; source: string; cleanup?: () => void } | { why: string } {
  const env = process.env.LOWBIT_HQQ_REFERENCE;
  if (env && existsSync(join(env, 'hqq', 'core', 'optimize.py'))) return { root: env, source: env };
  if (!existsSync(PYTHON)) return { why: `${PYTHON} not found` };
  if (!existsSync(MIRROR)) return { why: `no HQQ reference: set LOWBIT_HQQ_REFERENCE or fetch github:mobiusml/hqq to ${MIRROR}` };
  const root = mkdtempSync(join(tmpdir(), 'lowbit-hqq-ref-'));
  execFileSync('sh', ['-c', `git --git-dir '${MIRROR}' archive HEAD hqq/__init__.py hqq/core | tar -x -C '${root}'`]);
  const commit = execFileSync('git', ['--git-dir', MIRROR, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  return { root, source: `mobiusml/hqq @ ${commit}`, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

interface Row {
  id: string;
  absErr: number;
  relErr: number;
  ppl: number;
  perLayer: number[];
}

export async function main(): Promise<void> {
  if (skipNoShared) {
    console.log(`skipped: ${skipNoShared}`);
    return;
  }
  const model = await loadModel(stories.model);
  const weights = BODY_LAYERS.map((name) => ({ name, ...model.getWeight(name) }));
  const windows = await textWindows({
    textPath: stories.text,
    tokenizerPath: stories.tokenizer,
    samples: 64,
    sequenceLength: 128,
    offset: 0,
  });
  const fpBytes = new Uint8Array(readFileSync(stories.model));
  const bitsList = [4, 3];
  const ref = findReference();
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-hqq-cmp-'));
  let refNote = '';
  try {
    if ('root' in ref) {
      writeFileSync(join(dir, 'layers.json'), JSON.stringify(weights.map((w) => ({ name: w.name, rows: w.rows, cols: w.cols }))));
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ bits: bitsList, group: GROUP }));
      for (const w of weights)
        writeFileSync(join(dir, `${w.name}.w.bin`), new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength));
      try {
        execFileSync(PYTHON, [join(__dirname, 'hqqReference.py'), ref.root, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
        const torch = (JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8')) as { torch: string }).torch;
        refNote = `reference: ${ref.source}, torch ${torch} on CPU`;
      } catch (e) {
        refNote = `reference failed to run: ${(e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? String(e)}`;
      }
    } else refNote = `reference not run: ${ref.why}`;
    console.log(`stories260K, 35 body layers (LM head fp32), group ${GROUP}; perplexity on 64×128 tokens from 0; ${refNote}`);
    for (const bits of bitsList) {
      const rows: Row[] = [];
      const measure = async (id: string, dequant: (i: number) => Promise<Float32Array>): Promise<void> => {
        let abs = 0,
          n = 0,
          num = 0,
          den = 0;
        const perLayer: number[] = [];
        const layers = [];
        for (let i = 0; i < weights.length; i++) {
          const w = weights[i]!,
            d = await dequant(i);
          let a = 0;
          for (let j = 0; j < d.length; j++) {
            const e = w.data[j]! - d[j]!;
            a += Math.abs(e);
            num += e * e;
            den += w.data[j]! * w.data[j]!;
          }
          abs += a;
          n += d.length;
          perLayer.push(a / d.length);
          layers.push({ layer: w.name, dequant: d });
        }
        const ev = await evaluateText({ fpModel: fpBytes, quantizedModel: fakeQuantBytes(model, layers), windows, threads: 2 });
        rows.push({ id, absErr: abs / n, relErr: num / den, ppl: ev.quantized!.perplexity, perLayer });
        if (rows.length === 1) console.log(`w${bits} g${GROUP}: fp perplexity ${ev.fp.perplexity.toFixed(3)}`);
      };
      const layerOf = (i: number) => weights[i]!;
      await measure(
        'rtn (ours)',
        async (i) => (await rtn(layerOf(i).data, layerOf(i).rows, layerOf(i).cols, { bits, groupSize: GROUP, symmetric: false })).dequant,
      );
      const its: number[] = [];
      await measure('hqq ours, zero_point float', async (i) => {
        const r = await hqq(layerOf(i).data, layerOf(i).rows, layerOf(i).cols, { bits, groupSize: GROUP, integerZero: false });
        its.push(r.iterations);
        return r.dequant;
      });
      await measure(
        'hqq ours, zero_point integer',
        async (i) => (await hqq(layerOf(i).data, layerOf(i).rows, layerOf(i).cols, { bits, groupSize: GROUP })).dequant,
      );
      await measure(
        'hqq ours, float, kappa 1 (β fixed, as the package default)',
        async (i) =>
          (await hqq(layerOf(i).data, layerOf(i).rows, layerOf(i).cols, { bits, groupSize: GROUP, integerZero: false, kappa: 1 })).dequant,
      );
      for (const variant of ['v2', 'default'])
        if (existsSync(join(dir, `${weights[0]!.name}.${variant}.w${bits}.bin`)))
          await measure(
            `hqq authors, ${variant === 'v2' ? 'optimize_weights_proximal_v2' : 'package default (legacy optimizer)'}`,
            async (i) => {
              const b = readFileSync(join(dir, `${layerOf(i).name}.${variant}.w${bits}.bin`));
              return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
            },
          );
      console.log(`| config (w${bits} g${GROUP}) | mean abs ΔW | ‖ΔW‖²/‖W‖² | ppl |`);
      console.log('|---|---|---|---|');
      for (const r of rows) console.log(`| ${r.id} | ${r.absErr.toExponential(4)} | ${r.relErr.toExponential(4)} | ${r.ppl.toFixed(3)} |`);
      console.log(
        `  ours (float) accepted iterations per layer: min ${Math.min(...its)}, max ${Math.max(...its)}, mean ${(its.reduce((a, b) => a + b, 0) / its.length).toFixed(1)}`,
      );
      const a = rows.find((r) => r.id.startsWith('hqq ours, zero_point float')),
        b = rows.find((r) => r.id.includes('proximal_v2'));
      if (a && b) {
        const rel = a.perLayer.map((v, i) => (v - b.perLayer[i]!) / b.perLayer[i]!);
        const worst = rel.reduce((m, v, i) => (Math.abs(v) > Math.abs(rel[m]!) ? i : m), 0);
        console.log(
          `  per layer, ours (float) vs authors' v2 mean abs ΔW: median ${(100 * rel.slice().sort((x, y) => x - y)[rel.length >> 1]!).toFixed(3)}%, largest ${(100 * rel[worst]!).toFixed(3)}% (${weights[worst]!.name})`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if ('cleanup' in ref) ref.cleanup?.();
  }
}
