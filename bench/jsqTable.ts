/**
 * docs/results.md "JSQ (issue 15)": JSQ against Wanda+SmoothQuant and SparseGPT+SmoothQuant on
 * stories260K at 50% sparsity, W8A8 and W4A8 (equal stored bits: every row stores the same bitmap and
 * survivor codes). Each config is examples/stories260K-jsq-50.lowbit.yaml with only `defaults:`
 * changed, run as a real `lowbit run` process; prints a markdown table.
 *   node --import tsx bench/jsqTable.ts [filter]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const example = join(root, 'examples/stories260K-jsq-50.lowbit.yaml');
const outDir = join(root, 'out/jsq-table');

/** Config label → the `defaults:` line's method and settings. */
const CONFIGS: [string, string, string][] = [];
for (const bits of [8, 4]) {
  const d = (settings: string) =>
    `{ method: jsq, bits: ${bits}, sparsity: 0.5, group_size: 32, symmetric: false, settings: { ${settings} } }`;
  CONFIGS.push(
    [`W${bits}A8`, 'wanda + smoothquant', d('rho: 0, clip_max: 0')],
    [`W${bits}A8`, 'sparsegpt + smoothquant', d('pruner: sparsegpt, clip_max: 0')],
    [`W${bits}A8`, 'jsq saliency only (no editor)', d('clip_max: 0')],
    [`W${bits}A8`, 'wanda + smoothquant + editor', d('rho: 0')],
    [`W${bits}A8`, '**jsq** (saliency + editor)', d('')],
    [`W${bits}A8`, 'sparsegpt + smoothquant + editor', d('pruner: sparsegpt')],
  );
  if (bits === 8)
    CONFIGS.push(
      [`W${bits}A8`, 'jsq, ρ 0.5 (no editor)', d('rho: 0.5, clip_max: 0')],
      [`W${bits}A8`, 'jsq, ρ 0.1 (no editor)', d('rho: 0.1, clip_max: 0')],
    );
}

const filter = process.argv[2];
mkdirSync(outDir, { recursive: true });
const src = readFileSync(example, 'utf8');
const abs = (p: string) => resolve(dirname(example), p);
const rows: string[] = [];
for (const [grid, label, defaults] of CONFIGS) {
  if (filter && !`${grid} ${label}`.includes(filter)) continue;
  const tag = `${grid}-${label.replace(/[^a-z0-9]+/gi, '-')}`;
  const recipe = join(outDir, `${tag}.lowbit.yaml`);
  const text = src
    .replace(/^defaults:.*$/m, `defaults: ${defaults}`)
    .replace(/^model: (.*)$/m, (_, p) => `model: ${abs(p)}`)
    .replace(/^output: .*$/m, `output: ${join(outDir, `${tag}.onnx`)}`)
    .replace(/^( {2}(?:text|tokenizer)): (.*)$/gm, (_, k, p) => `${k}: ${abs(p)}`);
  writeFileSync(recipe, text);
  execFileSync(process.execPath, ['--import', 'tsx', join(root, 'cli/main.ts'), 'run', recipe], { stdio: 'ignore' });
  const r = JSON.parse(readFileSync(join(outDir, `${tag}.report.json`), 'utf8'));
  const layers = r.layers.filter((l: { jsq?: unknown }) => l.jsq);
  const pruned = layers.reduce((a: number, l: { sparsity?: { pruned: number } }) => a + (l.sparsity?.pruned ?? 0), 0) / layers.length;
  const clips = layers.filter((l: { jsq: { clip_fraction: number } }) => l.jsq.clip_fraction > 0).length;
  const m = r.metrics;
  rows.push(
    `| ${grid} | ${label} | ${pruned.toFixed(3)} | ${clips}/${layers.length} | ${m.quantized.perplexity.toFixed(2)} | ${m.kl_divergence.mean.toFixed(3)} | ${(100 * m.top1_agreement).toFixed(1)}% | ${r.size.quantized_bytes} |`,
  );
  console.error(rows[rows.length - 1]);
}
console.log('| grid | config | pruned | layers clipped | ppl | KL mean | top-1 agree | file bytes |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
