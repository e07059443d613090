/** Formatting through the YAML library's document model, which keeps comments and key order. */
import { parseDocument } from 'yaml';
import type { TextEdit } from 'vscode-languageserver-types';
import type { TextDocument } from 'vscode-languageserver-textdocument';

/** One whole-document edit, or none when the text has syntax errors or is already formatted. */
export function formatRecipe(doc: TextDocument, tabSize = 2): TextEdit[] {
  const text = doc.getText();
  if (text.length > 1_000_000) return [];
  const y = parseDocument(text, { keepSourceTokens: false });
  if (y.errors.length) return [];
  const out = y.toString({ indent: Math.max(1, Math.min(8, tabSize)), lineWidth: 0, flowCollectionPadding: true });
  if (out === text) return [];
  return [{ range: { start: { line: 0, character: 0 }, end: doc.positionAt(text.length) }, newText: out }];
}
