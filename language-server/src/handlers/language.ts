/** LSP language features → pure services. Every handler is guarded so a bad document cannot crash the server. */
import type { Connection } from 'vscode-languageserver/node';
import { complete } from '../services/completion';
import { hover } from '../services/hover';
import { codeLenses } from '../services/codeLens';
import { codeActions } from '../services/codeActions';
import { documentSymbols } from '../services/symbols';
import { formatRecipe } from '../services/formatting';
import type { Workspace } from './workspace';

/** Run `fn`, logging and returning `fallback` on any error. */
export async function guarded<T>(connection: Connection, what: string, fallback: T, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    connection.console.error(`lowbit: ${what} failed: ${(e as Error).stack ?? e}`);
    return fallback;
  }
}

/** Register completion, hover, code lens, code actions, symbols and formatting. */
export function registerLanguageFeatures(connection: Connection, ws: Workspace): void {
  const withAnalysis = async <T>(
    uri: string,
    fallback: T,
    fn: (a: Awaited<ReturnType<Workspace['analysis']>> & object) => T,
  ): Promise<T> => {
    const p = ws.analysis(uri);
    if (!p) return fallback;
    return fn(await p);
  };
  connection.onCompletion((p) =>
    guarded(connection, 'completion', [], () => withAnalysis(p.textDocument.uri, [], (a) => complete(a, a.doc.offsetAt(p.position)))),
  );
  connection.onHover((p) =>
    guarded(connection, 'hover', null, () => withAnalysis(p.textDocument.uri, null, (a) => hover(a, a.doc.offsetAt(p.position)))),
  );
  connection.onCodeLens((p) => guarded(connection, 'code lens', [], () => withAnalysis(p.textDocument.uri, [], (a) => codeLenses(a))));
  connection.onCodeAction((p) =>
    guarded(connection, 'code action', [], () => withAnalysis(p.textDocument.uri, [], (a) => codeActions(a, p.context.diagnostics))),
  );
  connection.onDocumentSymbol((p) =>
    guarded(connection, 'symbols', [], () => withAnalysis(p.textDocument.uri, [], (a) => documentSymbols(a))),
  );
  connection.onDocumentFormatting((p) =>
    guarded(connection, 'formatting', [], () => {
      const doc = ws.documents.get(p.textDocument.uri);
      return doc ? formatRecipe(doc, p.options.tabSize) : [];
    }),
  );
}
