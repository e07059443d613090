/**
 * Custom LSP messages between the extension (client) and the language server.
 * Each is a namespace holding its `method` and typed `type`; both sides import from here.
 */
import { RequestType, NotificationType } from 'vscode-languageserver-protocol';
import type { Range, WorkspaceEdit } from 'vscode-languageserver-protocol';
import type { Report } from './report';
import type { BudgetTarget, SuggestResult } from './budget';

/** Client → server: compress and evaluate the recipe at `uri`. Sent with a workDoneToken; cancellable. */
export namespace CompressRequest {
  export const method = 'lowbit/compress';
  export interface Params {
    uri: string;
    workDoneToken?: string | number;
  }
  export interface Result {
    reportPath: string;
    report: Report;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Client → server: the latest report for a recipe (null when it has not been run). */
export namespace ReportRequest {
  export const method = 'lowbit/report';
  export interface Params {
    uri: string;
  }
  export type Result = { reportPath: string; report: Report; history: string[] } | null;
  export const type = new RequestType<Params, Result, void>(method);
}

/** Client → server: per-layer sensitivity (Hessian proxy at once, then measured KL per layer). */
export namespace SensitivityRequest {
  export const method = 'lowbit/sensitivity';
  export interface Params {
    uri: string;
    workDoneToken?: string | number;
  }
  export interface LayerSensitivity {
    name: string;
    proxy: number;
    kl?: number;
  }
  export interface Result {
    layers: LayerSensitivity[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Server → client: a partial sensitivity result (proxy first, measured values as they come). */
export namespace SensitivityUpdateNotification {
  export const method = 'lowbit/sensitivityUpdate';
  export interface Params {
    uri: string;
    layers: SensitivityRequest.LayerSensitivity[];
    done: boolean;
  }
  export const type = new NotificationType<Params>(method);
}

/** Client → server: the range of the recipe rule that governs `layer` (last rule that touched it). */
export namespace RuleForLayerRequest {
  export const method = 'lowbit/ruleForLayer';
  export interface Params {
    uri: string;
    layer: string;
  }
  export type Result = { range: Range; rule: number | null } | null;
  export const type = new RequestType<Params, Result, void>(method);
}

/** Client → server: an edit that gives the most sensitive layers more bits within a size budget. */
export namespace MixedPrecisionRequest {
  export const method = 'lowbit/mixedPrecision';
  export interface Params {
    uri: string;
    layers: SensitivityRequest.LayerSensitivity[];
    highBits: number;
    budgetFraction: number;
  }
  export interface Result {
    edit: WorkspaceEdit;
    chosen: string[];
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/**
 * Client → server: the per-layer mix that fits the recipe's `budget:` (or `target`), with the edit
 * that writes it as rules (a WorkspaceEdit whose change annotation asks for confirmation, so the editor
 * shows it as a diff to accept). Sent with a workDoneToken (progress per layer); cancellable.
 */
export namespace SuggestRequest {
  export const method = 'lowbit/suggest';
  export interface Params {
    uri: string;
    target?: BudgetTarget;
    workDoneToken?: string | number;
  }
  export interface Result {
    result: SuggestResult;
    edit: WorkspaceEdit;
  }
  export const type = new RequestType<Params, Result, void>(method);
}

/** Client → server: the edit that writes `yaml` (rules of a Pareto point) into the recipe, to confirm. */
export namespace SuggestEditRequest {
  export const method = 'lowbit/suggestEdit';
  export interface Params {
    uri: string;
    yaml: string;
    summary: string;
  }
  export interface Result {
    edit: WorkspaceEdit;
  }
  export const type = new RequestType<Params, Result, void>(method);
}
