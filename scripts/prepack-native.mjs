// `npm pack` / `npm publish` steps (npm's `prepare` has bundled dist/ already):
// - copies this platform's native addon build to native/prebuilt/<platform>-<arch>/, which the packed
//   package ships (see scripts/install-native.mjs);
// - copies onnxruntime-node's CPU build for this platform (its JS, its binding and libonnxruntime) to
//   native/prebuilt/onnxruntime-node/: onnxruntime-node is an optional dependency, which npm drops when its
//   install script cannot download the CUDA provider (any offline linux-x64 machine), and
//   engine/onnx/onnxruntimeNode.cjs then loads this copy; the user's plain `npm install <tarball>` works;
// - copies package-lock.json to npm-shrinkwrap.json, so an install of the tarball gets exactly the
//   tested dependency versions and needs no registry metadata (`npm install --offline` from the cache works).
// With --clean (`postpack`) both are removed again, so the checkout keeps only native/build and its lock.
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  vendorOnnxruntime(join(dir, 'onnxruntime-node'));
}

/** onnxruntime-node's files a CPU session needs on this platform, and a package.json without its install script. */
function vendorOnnxruntime(to) {
  const from = join(root, 'node_modules/onnxruntime-node');
  const bin = `bin/napi-v6/${process.platform}/${process.arch}`;
  if (!existsSync(join(from, bin, 'onnxruntime_binding.node'))) {
    console.error(`lowbit: ${join(from, bin)} has no onnxruntime binding; run \`npm install\` before \`npm pack\``);
    process.exit(1);
  }
  const pkg = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
  cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
  cpSync(join(from, bin), join(to, bin), { recursive: true });
  if (existsSync(join(from, 'README.md'))) copyFileSync(join(from, 'README.md'), join(to, 'README.md'));
  const { name, version, license, main, types, dependencies } = pkg;
  const common = { 'onnxruntime-common': dependencies['onnxruntime-common'] };
  writeFileSync(
    join(to, 'package.json'),
    JSON.stringify(
      {
        name,
        version,
        license,
        main,
        types,
        dependencies: common,
        description: `${pkg.description ?? name} (${process.platform}-${process.arch} CPU build, carried by lowbit)`,
      },
      null,
      2,
    ) + '\n',
  );
}
