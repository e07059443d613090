#!/usr/bin/env node
// The `lowbit` command: compress, check and inspect from a shell or a CI pipeline.
// It runs the CLI however it is reached (this path, npm's .bin/lowbit link, npx, a global install);
// the CLI sets the exit code (0 ok, 1 errors, 2 usage).
'use strict';
const args = process.argv.slice(2);
// The version needs no build, so `npx lowbit --version` answers even in a checkout not yet installed.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
  process.stdout.write(`${require('../package.json').version}\n`);
  process.exit(0);
}
let cli;
try {
  cli = require('../dist/cli.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('dist/cli.js')) {
    process.stderr.write('lowbit: dist/cli.js is missing; in a checkout run `npm install` (or `npm run build`) first\n');
    process.exit(1);
  }
  throw e;
}
cli.runMain(args);
