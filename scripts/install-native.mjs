// npm's `install` step for the native addon (native/build/Release/lowbit_native.node).
// A packed lowbit (npm pack) ships a build for the platform it was packed on in native/prebuilt/<platform>-<arch>/;
// when that build loads here it is used as is, so an install needs no compiler, no Node headers and no network.
// Otherwise (a checkout, whose C++ may have changed, or another platform) node-gyp builds it from native/src.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const prebuilt = join(root, 'native/prebuilt', `${process.platform}-${process.arch}`, 'lowbit_native.node');
const target = join(root, 'native/build/Release/lowbit_native.node');

/** Whether the shipped build loads in this Node on this machine (N-API: any Node >= 20 will do). */
function loads(file) {
  try {
    return typeof createRequire(import.meta.url)(file) === 'object';
  } catch (e) {
    console.log(`lowbit: ${file} does not load here (${e.message.split('\n')[0]}); building the addon from source`);
    return false;
  }
}

if (existsSync(prebuilt) && loads(prebuilt)) {
  mkdirSync(join(root, 'native/build/Release'), { recursive: true });
  copyFileSync(prebuilt, target);
  process.exit(0);
}
// A checkout whose addon is newer than every native source is up to date: rebuilding it would only
// delete a working build while something may be using it (npm re-runs `install` on e.g. `npx lowbit`
// when its hidden lock file is stale, which a running test suite must survive).
function newestSource(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return t;
}
const sources = ['src', 'include'].map((d) => join(root, 'native', d)).filter(existsSync);
const newest = Math.max(statSync(join(root, 'native/binding.gyp')).mtimeMs, ...sources.map(newestSource));
if (existsSync(target) && statSync(target).mtimeMs >= newest && loads(target)) {
  console.log('lowbit: native addon is up to date (native/build/Release/lowbit_native.node)');
  process.exit(0);
}
// `npx lowbit` in a checkout runs this from npx's cache (npm_command is `exec`). A failure there leaves
// npx a cache entry without package.json, and every later `npx lowbit` in this checkout fails with
// ENOENT, printing nothing: there, an addon that cannot be built only warns (a job then says it is missing).
const bestEffort = process.env.npm_command === 'exec';
if (bestEffort && !existsSync(join(root, 'node_modules/node-addon-api'))) {
  console.error('lowbit: dependencies are not installed; not building the native addon (run `npm install` in the checkout)');
  process.exit(0);
}
// npm puts node-gyp on PATH for lifecycle scripts (the checkout's devDependency, or npm's own copy).
const r = spawnSync('node-gyp', ['rebuild', '--directory=native'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (r.error) console.error(`lowbit: could not run node-gyp to build the native addon: ${r.error.message}`);
if (r.status !== 0 && bestEffort) {
  console.error('lowbit: the native addon did not build; `npm run install` in the checkout builds it');
  process.exit(0);
}
process.exit(r.status ?? 1);
