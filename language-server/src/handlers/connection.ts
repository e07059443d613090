/**
 * The language server: capability negotiation and wiring of documents, features and jobs.
 * Used by dist/server.js and by `lowbit lsp --stdio`.
 */
import { createConnection, ProposedFeatures, TextDocuments, TextDocumentSyncKind } from 'vscode-languageserver/node';
import type { Connection, InitializeResult } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { Workspace } from './workspace';
import { registerLanguageFeatures } from './language';
import { registerJobRequests } from './jobs';

/** Start the server on stdio (with `--stdio`) or on the transport given on the command line. */
export function startServer(argv: string[] = process.argv): Connection {
  const connection = argv.includes('--stdio')
    ? createConnection(ProposedFeatures.all, process.stdin, process.stdout)
    : createConnection(ProposedFeatures.all);
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
  connection.onNotification('lowbit/setTrusted', (p: { trusted: boolean }) => { trusted = p.trusted !== false; });
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
