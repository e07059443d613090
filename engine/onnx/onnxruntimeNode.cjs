// What `import ... from 'onnxruntime-node'` loads in the bundles (scripts/build.mjs routes it here).
// onnxruntime-node is an optional dependency: on linux-x64 its install script downloads the CUDA
// provider from NuGet, and npm drops the package when that fails (an offline machine). The packed
// lowbit carries onnxruntime-node's CPU build for the platform that packed it
// (native/prebuilt/onnxruntime-node, written by scripts/prepack-native.mjs), so the CLI, the server
// and the extension still run. The installed package wins when npm kept it (it may add CUDA).
'use strict';
const path = require('node:path');

function isMissing(e, what) {
  return e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${what}'`);
}

function load() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    if (!isMissing(e, 'onnxruntime-node')) throw e;
    // __dirname is dist/ once bundled.
    const packaged = path.join(__dirname, '..', 'native', 'prebuilt', 'onnxruntime-node');
    try {
      return require(packaged);
    } catch (e2) {
      if (!isMissing(e2, packaged)) throw e2;
      throw new Error(
        `onnxruntime-node is not installed (npm skips it when its install script cannot download; ` +
          `install with ONNXRUNTIME_NODE_INSTALL=skip) and this package carries no copy for ${process.platform}-${process.arch} at ${packaged}`,
      );
    }
  }
}

module.exports = load();
