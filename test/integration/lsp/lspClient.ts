/** A real LSP client over stdio against dist/server.js (built by `npm run build`). */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as rpc from 'vscode-languageserver-protocol/node';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const storiesModel = path.join(sharedDir, 'models', 'stories260K', 'model.onnx');
export const serverJs = path.join(repoRoot, 'dist', 'server.js');

/** The head every stories260K test recipe shares (model, 4-bit matmulnbits output, calibration text); `rest` follows. */
export function storiesRecipe(rest: string[]): string {
  const text = path.join(sharedDir, 'data', 'tinystories-sample.txt');
  return [
    'version: 1',
    `model: ${storiesModel}`,
    'output: ./out/w4.onnx',
    'format: matmulnbits',
    'calibration:',
    `  text: ${text}`,
    `  tokenizer: ${path.join(path.dirname(storiesModel), 'tokenizer.json')}`,
    ...rest,
    '',
  ].join('\n');
}

export interface LspSession {
  conn: rpc.ProtocolConnection;
  child: ChildProcess;
  stderr: string[];
  /** Every publishDiagnostics received, in order. */
  published: rpc.PublishDiagnosticsParams[];
  /** Resolves with the next diagnostics published for `uri` (optionally for a given version). */
  diagnostics(uri: string, version?: number): Promise<rpc.PublishDiagnosticsParams>;
  open(uri: string, text: string, version?: number): void;
  close(): Promise<void>;
}

/** Spawn the server, initialize it and return a session. */
export async function startSession(
  args: string[] = [serverJs, '--stdio'],
  initializationOptions: unknown = { trusted: true },
): Promise<LspSession> {
  if (!fs.existsSync(serverJs)) throw new Error(`${serverJs} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.on('data', (d) => stderr.push(String(d)));
  const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(child.stdout!), new rpc.StreamMessageWriter(child.stdin!));
  const waiters: { uri: string; version?: number; resolve: (p: rpc.PublishDiagnosticsParams) => void }[] = [];
  const published: rpc.PublishDiagnosticsParams[] = [];
  conn.onNotification(rpc.PublishDiagnosticsNotification.type, (p) => {
    published.push(p);
    for (const w of [...waiters])
      if (w.uri === p.uri && (w.version === undefined || w.version === p.version)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(p);
      }
  });
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.listen();
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr.join('').slice(-2000)}`))),
  );
  exited.catch(() => undefined);
  await Promise.race([
    exited,
    conn.sendRequest(rpc.InitializeRequest.type, {
      processId: process.pid,
      rootUri: null,
      capabilities: { window: { workDoneProgress: true } },
      initializationOptions,
    }),
  ]);
  conn.sendNotification(rpc.InitializedNotification.type, {});
  return {
    conn,
    child,
    stderr,
    published,
    diagnostics: (uri, version) => new Promise((resolve) => waiters.push({ uri, version, resolve })),
    open: (uri, text, version = 1) =>
      conn.sendNotification(rpc.DidOpenTextDocumentNotification.type, {
        textDocument: { uri, languageId: 'lowbit-recipe', version, text },
      }),
    close: async () => {
      await conn.sendRequest(rpc.ShutdownRequest.type);
      conn.sendNotification(rpc.ExitNotification.type);
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('exit', r)));
      conn.dispose();
    },
  };
}
