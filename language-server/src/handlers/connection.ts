/**
 * The language server: capability negotiation and wiring of documents, features and jobs.
 * Used by dist/server.js and by `lowbit lsp --stdio`.
 */
import { createConnection, ProposedFeatures, StreamMessageWriter, TextDocuments, TextDocumentSyncKind } from 'vscode-languageserver/node';
import type { Connection, InitializeResult } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Workspace } from './workspace';
import { registerLanguageFeatures } from './language';
import { registerJobRequests } from './jobs';
import { FrameReader } from './frameReader';

/**
 * The stdio connection through our strict frame reader (handlers/frameReader): malformed frames and
 * bodies get a JSON-RPC error instead of silence. Exits when stdin ends, as the library's stdio mode does.
 */
function stdioConnection(): Connection {
  const writer = new StreamMessageWriter(process.stdout);
  const reader = new FrameReader(process.stdin, (e) => {
    void writer.write({ jsonrpc: '2.0', id: e.id, error: { code: e.code, message: e.message } } as unknown as Parameters<
      typeof writer.write
    >[0]);
  });
  const connection = createConnection(ProposedFeatures.all, reader, writer);
  let shutdown = false;
  connection.onShutdown(() => {
    shutdown = true;
  });
  const end = () => {
    if (!shutdown) process.stderr.write('lowbit lsp: stdin closed without a shutdown request; exiting\n');
    process.exit(shutdown ? 0 : 1);
  };
  process.stdin.on('end', end);
  process.stdin.on('close', end);
  // stdout carries the protocol: console output goes to the client's log instead.
  console.log = (...a: unknown[]) => connection.console.log(a.map(String).join(' '));
  console.info = console.log;
  console.warn = (...a: unknown[]) => connection.console.warn(a.map(String).join(' '));
  console.error = (...a: unknown[]) => connection.console.error(a.map(String).join(' '));
  return connection;
}

/** Start the server on stdio (with `--stdio`) or on the transport given on the command line. */
export function startServer(argv: string[] = process.argv): Connection {
  const connection = argv.includes('--stdio') ? stdioConnection() : createConnection(ProposedFeatures.all);
  const documents = new TextDocuments(TextDocument);
  const ws = new Workspace(connection, documents);
  let trusted = true;

  connection.onInitialize((params): InitializeResult => {
    const opts = (params.initializationOptions ?? {}) as { trusted?: boolean };
    trusted = opts.trusted !== false;
    return {
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        completionProvider: { triggerCharacters: [':', ' ', '/', '.', '"'], resolveProvider: false },
        hoverProvider: true,
        codeLensProvider: { resolveProvider: false },
        codeActionProvider: { codeActionKinds: ['quickfix'] },
        documentSymbolProvider: true,
        documentFormattingProvider: true,
      },
      serverInfo: { name: 'lowbit', version: '0.1.0' },
    };
  });
  connection.onNotification('lowbit/setTrusted', (p: { trusted: boolean }) => {
    trusted = p.trusted !== false;
  });
  documents.onDidOpen((e) => ws.scheduleDiagnostics(e.document.uri, 0));
  documents.onDidChangeContent((e) => ws.scheduleDiagnostics(e.document.uri));
  documents.onDidClose((e) => ws.close(e.document.uri));
  connection.onDidChangeWatchedFiles(() => ws.refresh());
  registerLanguageFeatures(connection, ws);
  registerJobRequests(connection, ws, () => trusted);
  process.on('uncaughtException', (e) => connection.console.error(`lowbit: uncaught ${e.stack ?? e}`));
  documents.listen(connection);
  connection.listen();
  return connection;
}
