// The formatter (Prettier, config in .prettierrc.json) over the code: .ts, .mjs, .js, .css.
//   node scripts/format.mjs          (npm run format)        rewrites every file, then deletes .format-pending
//   node scripts/format.mjs --check  (npm run format:check, a stage of npm test) fails on any unformatted file
// .format-pending lists files written before the formatter was adopted; the check skips them until the
// one-time `npm run format` over the whole tree formats them (and deletes the list).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const prettier = join(root, 'node_modules/prettier/bin/prettier.cjs');
const check = process.argv.includes('--check');
const pendingFile = join(root, '.format-pending');
const globs = ['**/*.{ts,mjs,js,css}'];

const args = check
  ? ['--check', '--cache', '--cache-location', 'node_modules/.cache/prettier/cache.json', '--log-level', 'warn']
  : ['--write', '--log-level', 'warn'];
// Prettier takes several ignore files; the pending list is one more while it exists.
args.push('--ignore-path', join(root, '.prettierignore'), '--ignore-path', join(root, '.gitignore'));
if (check && existsSync(pendingFile)) args.push('--ignore-path', pendingFile);
const r = spawnSync(process.execPath, [prettier, ...args, ...globs], { cwd: root, stdio: 'inherit' });
if (r.status === 0 && !check && existsSync(pendingFile)) {
  rmSync(pendingFile);
  console.log('formatted every file; removed .format-pending');
}
if (r.status !== 0 && check) {
  const pending = existsSync(pendingFile)
    ? readFileSync(pendingFile, 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#')).length
    : 0;
  console.error(
    `format check failed: run \`npm run format\`${pending ? ` (${pending} files are still pending the one-time reformat)` : ''}`,
  );
}
process.exit(r.status ?? 1);
