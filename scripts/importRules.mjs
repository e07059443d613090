// The import rule table: which part of the source tree may import which. One place to edit when
// directories move (change the `paths` prefixes; the rules between part names stay the same).
// Read by scripts/checkImports.mjs (run as a stage of `npm test`) and documented in docs/architecture.md.
//
// The direction is protocol ← recipe ← engine ← (cli, server); native kernels sit under the engine;
// the extension talks to the server over LSP and never loads the engine; a webview sees only protocol types.

/** Source folders (or single files) of each part, relative to the repository root. First match wins. */
export const parts = [
  { name: 'protocol', paths: ['protocol/'] },
  { name: 'recipe', paths: ['recipe/', 'recipe/validators/'] },
  { name: 'native', paths: ['native/ts/'] },
  { name: 'engine', paths: ['engine/'] },
  { name: 'cli', paths: ['cli/'] },
  { name: 'server', paths: ['language-server/src/services/', 'language-server/src/handlers/', 'language-server/src/server.ts'] },
  { name: 'extension', paths: ['extension/src/'] },
  { name: 'panelProtocol', paths: ['webview/src/protocol.ts'] },
  { name: 'webview', paths: ['webview/src/'] },
];

/**
 * What each part may import. `parts`: our own parts (a part may always import itself).
 * `typeOnly`: parts it may import with `import type` only. `packages`: npm/node modules it must NOT import.
 */
export const rules = {
  protocol: { parts: [], typeOnly: [], deniedPackages: ['vscode', 'vscode-languageserver', 'vscode-languageclient', 'onnxruntime-node'] },
  recipe: { parts: ['protocol'], typeOnly: [], deniedPackages: ['vscode', 'vscode-languageclient', 'onnxruntime-node'] },
  native: { parts: ['protocol'], typeOnly: [], deniedPackages: ['vscode', 'vscode-languageserver', 'vscode-languageclient'] },
  engine: {
    parts: ['protocol', 'recipe', 'native'],
    typeOnly: [],
    deniedPackages: ['vscode', 'vscode-languageserver', 'vscode-languageclient'],
  },
  cli: { parts: ['protocol', 'recipe', 'native', 'engine', 'server'], typeOnly: [], deniedPackages: ['vscode', 'vscode-languageclient'] },
  server: { parts: ['protocol', 'recipe', 'native', 'engine'], typeOnly: [], deniedPackages: ['vscode', 'vscode-languageclient'] },
  extension: { parts: ['protocol', 'panelProtocol'], typeOnly: [], deniedPackages: ['onnxruntime-node', 'vscode-languageserver'] },
  // The host ↔ panel messages and their validators (webview/src/protocol.ts): both sides bundle it.
  panelProtocol: {
    parts: [],
    typeOnly: ['protocol'],
    deniedPackages: ['vscode', 'onnxruntime-node', 'vscode-languageserver', 'vscode-languageclient'],
  },
  webview: {
    parts: ['panelProtocol'],
    typeOnly: ['protocol'],
    deniedPackages: ['vscode', 'onnxruntime-node', 'vscode-languageserver', 'vscode-languageclient'],
  },
};

/** Folders whose .ts files are checked for cycles and rules (tests and benches are not checked). */
export const sourceRoots = ['protocol', 'recipe', 'engine', 'cli', 'language-server/src', 'extension/src', 'webview/src', 'native/ts'];
