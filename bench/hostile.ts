/**
 * Wall-clock targets of issue 17 (printed, not asserted — the tests count steps instead):
 * `lowbit check` on pathological recipes under the 2 MB limit finishes in < 2 s, and the language
 * server answers a hover on another document within 1 s while it checks such a recipe.
 * Runs the built CLI (dist) and dist/server.js as real processes against stories260K. Baselines from
 * the same run: `check` of a trivial recipe (process start + model load), the same recipe bytes parsed
 * by the `yaml` package and, as JSON, by JSON.parse; a hover while no check runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseYaml } from '../recipe/parse';
import { parse as parseYamlPackage } from 'yaml';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel } from '../test/integration/lsp/lspClient';

const root = resolve(__dirname, '..');
const names = [
  ...Array.from({ length: 5 }, (_, i) => ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'].map((w) => `layers.${i}.${w}`)).flat(),
  'output',
];

/** The largest recipe of short one-line rules under `limit` characters (issue 17: 54k rules near 2 MB). */
function shortRules(head: string, limit: number): string {
  let text = head;
  for (let i = 0; ; i++) {
    const line = `  - {match: "${names[i % 36]}", bits: 4}\n`;
    if (text.length + line.length > limit) return text;
    text += line;
  }
}

/** Recipes of issue 17: sequences of `.*`, `{*,*}` globs, 32k one-line rules, 54k distinct regexes (each under 2 MB). */
function recipes(dir: string): Record<string, string> {
  const head = `version: 1\nmodel: ${storiesModel}\noutput: ./out.onnx\nformat: fake\nlayers:\n`;
  const out: Record<string, string> = {
    'trivial (baseline)': `${head}  - match: "layers.*.wq"\n    bits: 4\n`,
    '55k short rules, 2 MB': shortRules(head, 1_990_000),
    '54k block rules':
      head + Array.from({ length: 54_000 }, (_, i) => `  - match: ${names[i % 36]}\n    bits: ${i % 2 ? 4 : 8}\n`).join(''),
    'dot-star x40': `${head}  - match: "re:${'.*'.repeat(40)}Z"\n    bits: 4\n`,
    'glob {*,*} x90': `${head}  - match: "${'{*,*}'.repeat(90)}Z"\n    bits: 4\n`,
    '32k one-line rules':
      head + Array.from({ length: 32_000 }, (_, i) => `  - {match: "${names[i % 36]}", bits: ${i % 2 ? 4 : 8}}\n`).join(''),
    '40k distinct regexes': head + Array.from({ length: 40_000 }, (_, i) => `  - {match: "re:(.*)*${i}", bits: 4}\n`).join(''),
  };
  const paths: Record<string, string> = {};
  for (const [k, text] of Object.entries(out)) {
    paths[k] = join(dir, `${k.replace(/\W+/g, '-')}.lowbit.yaml`);
    writeFileSync(paths[k], text);
  }
  return paths;
}

/** Milliseconds of the fastest of `n` runs of `fn`. */
function best(n: number, fn: () => unknown): number {
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

/** The recipe parse alone: the fast path vs the `yaml` package vs JSON.parse of the same data as JSON. */
function parseTimes(files: Record<string, string>): void {
  for (const [label, file] of Object.entries(files)) {
    if (label.startsWith('trivial')) continue;
    const text = readFileSync(file, 'utf8');
    const json = JSON.stringify(parseYamlPackage(text, { maxAliasCount: -1 }));
    const fast = best(3, () => parseYaml(text));
    const yaml = best(1, () => parseYaml(text, { fast: false }));
    const plain = best(3, () => JSON.parse(json));
    console.log(
      `parse ${label.padEnd(24)} recipe ${fast.toFixed(0).padStart(5)} ms   yaml package ${yaml.toFixed(0).padStart(5)} ms (${(yaml / fast).toFixed(1)}x slower)   JSON.parse ${plain.toFixed(0).padStart(4)} ms (${(fast / plain).toFixed(1)}x)`,
    );
  }
}

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-bench-hostile-'));
  const files = recipes(dir);
  let base = 0;
  for (const [label, file] of Object.entries(files)) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/lowbit.js'), 'check', file], { stdio: 'ignore' });
    const s = (performance.now() - t0) / 1000;
    if (!base) base = s;
    console.log(
      `check ${label.padEnd(24)} ${s.toFixed(2).padStart(6)} s  (${(s / base).toFixed(1)}x the trivial recipe)  exit ${r.status}  target 2 s  ${s <= 2 ? 'ok' : 'SLOW'}`,
    );
  }
  parseTimes(files);
  const session = await startSession();
  try {
    const small = `file://${dir}/small.lowbit.yaml`;
    session.open(small, `version: 1\nmodel: ${storiesModel}\noutput: ./o.onnx\n`);
    await session.diagnostics(small);
    const idle = performance.now();
    await session.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri: small }, position: { line: 0, character: 1 } });
    console.log(`hover with no check running    ${((performance.now() - idle) / 1000).toFixed(2).padStart(6)} s  (baseline)`);
    for (const [label, file] of Object.entries(files)) {
      if (label.startsWith('trivial')) continue;
      const uri = `file://${file}`;
      const published = session.diagnostics(uri);
      session.open(uri, readFileSync(file, 'utf8'));
      await new Promise((r) => setTimeout(r, 160)); // past the diagnostics debounce: the check is running
      const t0 = performance.now();
      await session.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri: small }, position: { line: 0, character: 1 } });
      const s = (performance.now() - t0) / 1000;
      const check = (await published, (performance.now() - t0) / 1000);
      console.log(
        `hover during ${label.padEnd(22)} ${s.toFixed(2).padStart(6)} s  target 1 s  ${s <= 1 ? 'ok' : 'SLOW'}  (its check published ${check.toFixed(2)} s after the hover was sent)`,
      );
    }
  } finally {
    await session.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
