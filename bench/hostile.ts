/**
 * Wall-clock targets of issue 17 (printed, not asserted — the tests count steps instead):
 * `lowbit check` on pathological recipes under the 2 MB limit finishes in < 2 s, and the language
 * server answers a hover on another document within 1 s while it checks such a recipe.
 * Runs the built CLI (dist) and dist/server.js as real processes against stories260K.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';
import { startSession, storiesModel } from '../test/integration/lsp/lspClient';

const root = resolve(__dirname, '..');
const names = [
  ...Array.from({ length: 5 }, (_, i) => ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'].map((w) => `layers.${i}.${w}`)).flat(),
  'output',
];

/** Recipes of issue 17: sequences of `.*`, `{*,*}` globs, 32k one-line rules, 54k distinct regexes (each under 2 MB). */
function recipes(dir: string): Record<string, string> {
  const head = `version: 1\nmodel: ${storiesModel}\noutput: ./out.onnx\nformat: fake\nlayers:\n`;
  const out: Record<string, string> = {
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

export async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-bench-hostile-'));
  const files = recipes(dir);
  for (const [label, file] of Object.entries(files)) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [join(root, 'bin/lowbit.js'), 'check', file], { stdio: 'ignore' });
    const s = (performance.now() - t0) / 1000;
    console.log(`check ${label.padEnd(24)} ${s.toFixed(2).padStart(6)} s  exit ${r.status}  target 2 s  ${s <= 2 ? 'ok' : 'SLOW'}`);
  }
  const session = await startSession();
  try {
    const small = `file://${dir}/small.lowbit.yaml`;
    session.open(small, `version: 1\nmodel: ${storiesModel}\noutput: ./o.onnx\n`);
    await session.diagnostics(small);
    for (const [label, file] of Object.entries(files)) {
      const uri = `file://${file}`;
      const published = session.diagnostics(uri);
      session.open(uri, (await import('node:fs')).readFileSync(file, 'utf8'));
      await new Promise((r) => setTimeout(r, 160)); // past the diagnostics debounce: the check is running
      const t0 = performance.now();
      await session.conn.sendRequest(rpc.HoverRequest.type, { textDocument: { uri: small }, position: { line: 0, character: 1 } });
      const s = (performance.now() - t0) / 1000;
      console.log(`hover during ${label.padEnd(22)} ${s.toFixed(2).padStart(6)} s  target 1 s  ${s <= 1 ? 'ok' : 'SLOW'}`);
      await published;
    }
  } finally {
    await session.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
