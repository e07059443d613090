// `npm pack` / `npm publish` steps (npm's `prepare` has bundled dist/ already):
// - copies this platform's native addon build to native/prebuilt/<platform>-<arch>/, which the packed
//   package ships (see scripts/install-native.mjs);
// - copies package-lock.json to npm-shrinkwrap.json, so an install of the tarball gets exactly the
//   tested dependency versions and needs no registry metadata (`npm install --offline` from the cache works).
// With --clean (`postpack`) both are removed again, so the checkout keeps only native/build and its lock.
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'native/prebuilt');
const shrinkwrap = join(root, 'npm-shrinkwrap.json');
if (process.argv.includes('--clean')) {
  rmSync(dir, { recursive: true, force: true });
  rmSync(shrinkwrap, { force: true });
} else {
  const built = join(root, 'native/build/Release/lowbit_native.node');
  if (!existsSync(built)) {
    console.error('lowbit: native/build/Release/lowbit_native.node is missing; run `npm run install` before `npm pack`');
    process.exit(1);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, `${process.platform}-${process.arch}`), { recursive: true });
  copyFileSync(built, join(dir, `${process.platform}-${process.arch}`, 'lowbit_native.node'));
  copyFileSync(join(root, 'package-lock.json'), shrinkwrap);
}
