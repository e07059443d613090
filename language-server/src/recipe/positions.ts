/** Offset ↔ line/column conversion in one place (1-based for files, 0-based for LSP). */

/** 1-based line and column (in UTF-16 code units) of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1; let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), text.length);
  for (let i = text.indexOf('\n'); i >= 0 && i < end; i = text.indexOf('\n', i + 1)) { line++; lineStart = i + 1; }
  return { line, column: end - lineStart + 1 };
}
