#!/usr/bin/env node
// The `lowbit` command: compress, check and inspect from a shell or a CI pipeline.
// It runs the CLI however it is reached (this path, npm's .bin/lowbit link, npx, a global install);
// the CLI sets the exit code (0 ok, 1 errors, 2 usage).
'use strict';
let cli;
try {
  cli = require('../dist/cli.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('dist/cli.js')) {
    process.stderr.write('lowbit: dist/cli.js is missing; in a checkout run `npm run build` first\n');
    process.exit(1);
  }
  throw e;
}
cli.runMain(process.argv.slice(2));
