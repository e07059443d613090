#!/usr/bin/env node
// The `lowbit` command: compress, check and inspect from a shell or a CI pipeline.
require('../dist/cli.js');
