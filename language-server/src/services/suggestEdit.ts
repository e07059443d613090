/**
 * A budget suggestion as a WorkspaceEdit on the open recipe: the rules block of
 * recipe/suggestionEdit.ts, under a change annotation that needs confirmation (VS Code shows it in
 * the refactor preview as a diff the user accepts or discards).
 */
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { WorkspaceEdit } from 'vscode-languageserver-types';
import type { SuggestResult } from '../../../protocol/budget';
import { suggestionEdit } from '../../../recipe/suggestionEdit';

export const SUGGEST_ANNOTATION = 'lowbit.suggest';

/** One line for the rules block and the annotation: budget, stored bits, estimated loss. */
export function suggestionSummary(r: Pick<SuggestResult, 'target' | 'format' | 'chosen' | 'estimate'>): string {
  const t = r.target;
  const budget = t.kind === 'bits_per_weight' ? `${t.value} bits/weight` : t.kind === 'bytes' ? `${t.value} bytes` : `ratio ${t.value}`;
  return `${budget} as ${r.format}: ${r.chosen.bitsPerWeight.toFixed(2)} bits/weight stored, est. ${r.estimate === 'kl' ? 'KL' : 'error'} ${r.chosen.loss.toPrecision(4)}`;
}

/** The edit for `yaml` (the chosen rules, or a frontier point's) against the document's current text. */
export function suggestWorkspaceEdit(doc: TextDocument, yaml: string, summary: string): WorkspaceEdit {
  const e = suggestionEdit(doc.getText(), yaml, summary);
  return {
    documentChanges: [
      {
        textDocument: { uri: doc.uri, version: doc.version },
        edits: [
          { range: { start: doc.positionAt(e.start), end: doc.positionAt(e.end) }, newText: e.newText, annotationId: SUGGEST_ANNOTATION },
        ],
      },
    ],
    changeAnnotations: { [SUGGEST_ANNOTATION]: { label: 'Lowbit: suggested rules', description: summary, needsConfirmation: true } },
  };
}
