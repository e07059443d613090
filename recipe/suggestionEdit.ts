/**
 * Where a budget suggestion goes in the recipe text: its rules, between `# lowbit suggest: begin` and
 * `# lowbit suggest: end` lines, at the end of `layers:` (after the user's own rules, so they take
 * effect; a skip rule above still holds, since the suggested rules never set `skip`). A second
 * suggestion replaces the first block. One text edit, as offsets: the LSP turns it into a
 * WorkspaceEdit, the CLI and tests apply it with `applyEdit`.
 */
import { parseYaml } from './parse';

export const SUGGEST_BEGIN = '# lowbit suggest: begin';
export const SUGGEST_END = '# lowbit suggest: end';

export interface OffsetEdit {
  start: number;
  end: number;
  newText: string;
}

/** Rules YAML (items at 2 spaces, as rulesYaml writes them) re-indented to `indent`. */
function reindent(rulesYaml: string, indent: number): string {
  const pad = ' '.repeat(indent);
  return rulesYaml
    .split('\n')
    .map((l) => (l ? pad + l.replace(/^ {2}/, '') : l))
    .join('\n');
}

function block(rulesYaml: string, summary: string, indent: number): string {
  const pad = ' '.repeat(indent);
  return `${pad}${SUGGEST_BEGIN} (${summary})\n${reindent(rulesYaml, indent)}${pad}${SUGGEST_END}\n`;
}

/** The edit that puts `rulesYaml` (with a one-line `summary`) into `text`. */
export function suggestionEdit(text: string, rulesYaml: string, summary: string): OffsetEdit {
  const lines = text.split('\n');
  const begin = lines.findIndex((l) => l.trim().startsWith(SUGGEST_BEGIN));
  const end = lines.findIndex((l, i) => i > begin && l.trim().startsWith(SUGGEST_END));
  if (begin >= 0 && end > begin) {
    const start = lines.slice(0, begin).reduce((s, l) => s + l.length + 1, 0);
    const stop = Math.min(
      text.length,
      lines.slice(0, end + 1).reduce((s, l) => s + l.length + 1, 0),
    );
    const indent = lines[begin].length - lines[begin].trimStart().length;
    return { start, end: stop, newText: block(rulesYaml, summary, indent) };
  }
  const root = parseYaml(text).root;
  const layers = root?.kind === 'map' ? root.entries.find((e) => e.key === 'layers') : undefined;
  const lineStart = (off: number) => text.lastIndexOf('\n', off - 1) + 1;
  if (layers?.value?.kind === 'seq' && layers.value.items.length && text[layers.value.span.start] !== '[') {
    const first = layers.value.items[0];
    // The item's `- ` starts two columns before its value at most; find the dash on its line.
    const ls = lineStart(first.span.start);
    const dash = text.indexOf('-', ls);
    const indent = dash >= 0 && dash < first.span.start ? dash - ls : 2;
    const last = layers.value.items[layers.value.items.length - 1];
    let at = text.indexOf('\n', last.span.end);
    at = at < 0 ? text.length : at + 1;
    const prefix = at === text.length && !text.endsWith('\n') ? '\n' : '';
    return { start: at, end: at, newText: prefix + block(rulesYaml, summary, indent) };
  }
  if (layers) {
    // `layers:` with no rules yet (empty, null or a flow list `[]`): write the section anew.
    const start = lineStart(layers.keySpan.start);
    let stop = text.indexOf('\n', layers.span.end);
    stop = stop < 0 ? text.length : stop + 1;
    return { start, end: stop, newText: `layers:\n${block(rulesYaml, summary, 2)}` };
  }
  const sep = text.length && !text.endsWith('\n') ? '\n' : '';
  return { start: text.length, end: text.length, newText: `${sep}\nlayers:\n${block(rulesYaml, summary, 2)}` };
}

/** `text` with `edit` applied. */
export function applyEdit(text: string, edit: OffsetEdit): string {
  return text.slice(0, edit.start) + edit.newText + text.slice(edit.end);
}
