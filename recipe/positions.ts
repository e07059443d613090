/** Offset ↔ line/column conversion in one place (1-based for files, 0-based for LSP). */

/** Offsets where each line starts (the first is 0). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/**
 * A converter for many offsets of one text: the line starts are found once, each lookup is a binary
 * search (so n diagnostics cost O(text + n log lines), not O(text · n)).
 */
export function lineColumnOf(text: string): (offset: number) => { line: number; column: number } {
  const starts = lineStarts(text);
  return (offset) => {
    const end = Math.min(Math.max(offset, 0), text.length);
    let lo = 0,
      hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= end) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: end - starts[lo] + 1 };
  };
}

/** 1-based line and column (in UTF-16 code units) of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  return lineColumnOf(text)(offset);
}
