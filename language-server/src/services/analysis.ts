/**
 * What every service needs about one recipe document: the text, the checked recipe, its path on
 * disk and (when loaded) the model's layers and the last run's report. Pure data; no LSP connection.
 */
import * as path from 'node:path';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Range } from 'vscode-languageserver-types';
import type { LayerInfo, ModelSummary } from '../../../protocol/model';
import type { Report } from '../../../protocol/report';
import { readRecipe } from '../../../recipe/checkRecipe';
import type { Recipe } from '../../../recipe/checkRecipe';
import type { Span } from '../../../recipe/parse';

export interface RecipeAnalysis {
  doc: TextDocument;
  /** Absolute path of the recipe file (for relative paths). */
  recipePath: string;
  recipe: Recipe;
  /** The model's layers, when the model is loaded. */
  layers?: readonly LayerInfo[];
  /** The model's graph inputs, when the model is loaded (completion and checks of `inputs:`). */
  inputs?: ModelSummary['inputs'];
  modelError?: string;
  /** Whether the model can be rotated (`rotation: hadamard`), when the model is loaded. */
  rotation?: ModelSummary['rotation'];
  /** The report next to the output, if one exists. */
  report?: Report;
}

/** Absolute path from a file URI (or the URI itself for untitled documents). */
export function uriToPath(uri: string): string {
  if (uri.startsWith('file://')) return decodeURIComponent(uri.slice(7).replace(/^\/([a-zA-Z]:)/, '$1'));
  return path.resolve(uri.replace(/^[a-z]+:/, ''));
}

/** Build an analysis from a document (layers/report are filled in by the caller). */
export function analyze(doc: TextDocument, extra: Partial<RecipeAnalysis> = {}): RecipeAnalysis {
  return { doc, recipePath: uriToPath(doc.uri), recipe: readRecipe(doc.getText()), ...extra };
}

/** Offset span → LSP range. */
export function toRange(doc: TextDocument, span: Span): Range {
  return { start: doc.positionAt(span.start), end: doc.positionAt(span.end) };
}
