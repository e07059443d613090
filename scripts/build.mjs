// Bundles the extension client, the language server, the CLI and the webview panels with esbuild.
// Native code (our addon, onnxruntime-node) stays external and is loaded from the package at run time;
// onnxruntime-node through engine/onnx/onnxruntimeNode.cjs, which falls back to the copy a packed
// lowbit carries when npm dropped the optional dependency.
// `--watch` (npm run watch) keeps rebuilding on every change; it prints `[watch] build started` and
// `[watch] build finished` around each rebuild (the background problem matcher in .vscode/tasks.json).
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// `npx lowbit` in a checkout links it into npx's cache and runs this as its `prepare` (npm_command is
// `exec`). A failure there leaves npx a cache entry without package.json, and every later `npx lowbit`
// in this checkout fails with ENOENT, printing nothing: there, a build that cannot run only warns
// (bin/lowbit.js says what is missing when dist/ is).
const bestEffort = process.env.npm_command === 'exec';
function giveUp(why) {
  const hasDist = existsSync(new URL('../dist/cli.js', import.meta.url));
  console.error(`lowbit: ${why}; ${hasDist ? 'keeping the existing dist/' : 'dist/ is not built (run `npm install` in the checkout)'}`);
  process.exit(0);
}
let esbuild;
try {
  esbuild = await import('esbuild');
} catch (e) {
  if (!bestEffort) throw e;
  giveUp(`esbuild could not be loaded (${e?.code ?? e})`);
}
const { build, context } = esbuild;

const root = new URL('..', import.meta.url).pathname;
const watch = process.argv.includes('--watch');
const ortLoader = join(root, 'engine/onnx/onnxruntimeNode.cjs');
/** Every import of onnxruntime-node goes through ortLoader; the loader's own stays a run-time require. */
const onnxruntimeNode = {
  name: 'onnxruntime-node',
  setup(b) {
    b.onResolve({ filter: /^onnxruntime-node$/ }, (args) =>
      args.importer === ortLoader ? { path: 'onnxruntime-node', external: true } : { path: ortLoader },
    );
  },
};
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: ['vscode', '@napi-rs/canvas'],
  plugins: [onnxruntimeNode],
  // native/ts resolves its folder with __dirname when bundled as CJS; import.meta is only its ESM fallback.
  logOverride: { 'empty-import-meta': 'silent' },
};
const options = [];
const nodeEntries = {
  extension: 'extension/src/main.ts',
  server: 'language-server/src/server.ts',
  cli: 'cli/main.ts',
};
for (const [name, entry] of Object.entries(nodeEntries)) {
  if (!existsSync(join(root, entry))) continue;
  options.push({ ...common, entryPoints: [join(root, entry)], outfile: join(root, 'dist', `${name}.js`) });
}
// Every webview/src/panels/<name>.ts is one panel bundle: dist/webview/<name>.js (browser, IIFE).
const panelDir = join(root, 'webview/src/panels');
if (existsSync(panelDir)) {
  const panels = readdirSync(panelDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(panelDir, f));
  if (panels.length) {
    options.push({
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
      sourcemap: true,
      logLevel: 'warning',
      entryPoints: panels,
      outdir: join(root, 'dist/webview'),
      loader: { '.css': 'text' },
    });
  }
}

/**
 * Writes each output only when its bytes changed, through a temp file renamed into place: a process
 * that loads dist/ while a build runs (tests, `npm pack` during the suite) never reads half a file.
 */
function writeChanged(files) {
  for (const f of files) {
    if (existsSync(f.path) && Buffer.compare(readFileSync(f.path), f.contents) === 0) continue;
    mkdirSync(dirname(f.path), { recursive: true });
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
}

if (!watch) {
  try {
    const results = await Promise.all(options.map((o) => build({ ...o, write: false })));
    for (const r of results) writeChanged(r.outputFiles);
  } catch (e) {
    if (!bestEffort) throw e;
    giveUp(`the build failed (${e?.message?.split('\n')[0] ?? e})`);
  }
} else {
  // One "started"/"finished" pair per round of rebuilds, however many bundles a change touches.
  let running = 0;
  const announce = {
    name: 'announce',
    setup(b) {
      b.onStart(() => {
        if (running++ === 0) console.log('[watch] build started');
      });
      b.onEnd((r) => {
        for (const e of r.errors)
          console.error(`✘ [ERROR] ${e.text}${e.location ? `\n    ${e.location.file}:${e.location.line}:${e.location.column}:` : ''}`);
        if (--running === 0) console.log('[watch] build finished');
      });
    },
  };
  const contexts = await Promise.all(options.map((o) => context({ ...o, logLevel: 'silent', plugins: [...(o.plugins ?? []), announce] })));
  await Promise.all(contexts.map((c) => c.watch()));
  const stop = () => Promise.all(contexts.map((c) => c.dispose())).then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
