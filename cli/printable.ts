/**
 * Text from recipes and models on the terminal: control characters (ANSI escapes, carriage returns,
 * bidi overrides) are shown escaped (`\x1b`, `\r`, `\u202e`), never sent raw.
 */

// C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text.

const CONTROL = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const n = c.charCodeAt(0);
  return NAMED[c] ?? (n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`);
}

/** `text` with every control character escaped (newlines too: one message stays one line). */
export function printable(text: string): string {
  return text.replace(CONTROL, escapeOne);
}

/** Multi-line output (tables): each line escaped, the line breaks kept. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
