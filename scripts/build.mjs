// Bundles the extension client, the language server, the CLI and the webview panels with esbuild.
// Native code (our addon, onnxruntime-node) stays external and is loaded from the package at run time.
import { build } from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const watch = process.argv.includes('--watch');
const common = {
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, logLevel: 'warning',
  external: ['vscode', 'onnxruntime-node', '@napi-rs/canvas'],
  // native/ts resolves its folder with __dirname when bundled as CJS; import.meta is only its ESM fallback.
  logOverride: { 'empty-import-meta': 'silent' },
};
const nodeEntries = {
  extension: 'extension/src/main.ts',
  server: 'language-server/src/server.ts',
  cli: 'language-server/src/cli/main.ts',
};
const builds = [];
for (const [name, entry] of Object.entries(nodeEntries)) {
  if (!existsSync(join(root, entry))) continue;
  builds.push(build({ ...common, entryPoints: [join(root, entry)], outfile: join(root, 'dist', `${name}.js`) }));
}
// Every webview/src/panels/<name>.ts is one panel bundle: dist/webview/<name>.js (browser, IIFE).
const panelDir = join(root, 'webview/src/panels');
if (existsSync(panelDir)) {
  const panels = readdirSync(panelDir).filter((f) => f.endsWith('.ts')).map((f) => join(panelDir, f));
  if (panels.length) {
    builds.push(build({
      bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, logLevel: 'warning',
      entryPoints: panels, outdir: join(root, 'dist/webview'), loader: { '.css': 'text' },
    }));
  }
}
await Promise.all(builds);
if (watch) console.log('watch mode is not supported; rerun npm run build');
