/**
 * Owns the five webview panels (one per kind), builds their HTML (strict CSP, nonce), validates
 * every message from them and routes their requests to the language server.
 */
import * as vscode from 'vscode';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { panelHtml } from './html';
import {
  parseFromWebview,
  checkReport,
  type PanelKind,
  type ToWebview,
  type FromWebview,
  type LayerSensitivityView,
  type ParetoPick,
} from '../../../webview/src/protocol';
import type { SuggestResult } from '../../../protocol/budget';
import { paretoView, pointRules } from './paretoView';
import {
  ReportRequest,
  RuleForLayerRequest,
  MixedPrecisionRequest,
  SensitivityRequest,
  SuggestEditRequest,
  type SensitivityUpdateNotification,
} from '../../../protocol/messages';
import { upgradeReport, type Report } from '../../../protocol/report';
import { withJobProgress, type JobHost } from '../progress';

/** What the panels need from the extension's state (Ctx implements it; Ctx constructs the manager). */
export interface PanelHost extends JobHost {
  readonly extension: vscode.ExtensionContext;
  readonly output: vscode.LogOutputChannel;
}

const TITLES: Record<PanelKind, string> = {
  report: 'Lowbit Report',
  sensitivity: 'Lowbit Layer Sensitivity',
  saliency: 'Lowbit Hessian Saliency',
  ranks: 'Lowbit Rank Allocation',
  pareto: 'Lowbit Size / Quality',
};

interface Open {
  panel: vscode.WebviewPanel;
  recipe: vscode.Uri;
  ready: boolean;
  queue: ToWebview[];
}

export class PanelManager implements vscode.Disposable {
  private readonly open = new Map<PanelKind, Open>();
  /** Latest report per recipe (uri string) and the sensitivity known so far. */
  private readonly reports = new Map<string, { report: Report; reportPath: string; history: string[] }>();
  private readonly sensitivity = new Map<string, LayerSensitivityView[]>();
  /** The latest budget suggestion per recipe (the Pareto panel). */
  private readonly suggestions = new Map<string, SuggestResult>();

  constructor(private readonly ctx: PanelHost) {}

  /** Records a finished run's report (the report panel then shows it). */
  setReport(recipe: vscode.Uri, report: Report, reportPath: string, history?: string[]): void {
    const prev = this.reports.get(recipe.toString());
    const hist = history ?? [...new Set([reportPath, ...(prev?.history ?? [])])];
    this.reports.set(recipe.toString(), { report, reportPath, history: hist });
    const p = this.open.get('pareto');
    if (p && p.recipe.toString() === recipe.toString() && this.suggestions.has(recipe.toString())) this.pushPareto(p, recipe);
  }

  /** Records a budget suggestion (the Pareto panel shows it, and the measured point after a later run). */
  setSuggestion(recipe: vscode.Uri, result: SuggestResult): void {
    this.suggestions.set(recipe.toString(), result);
    const e = this.open.get('pareto');
    if (e && e.recipe.toString() === recipe.toString()) this.pushPareto(e, recipe);
  }

  /** Shows (or focuses) a panel for `recipe`, fetching the report from the server when needed. */
  async show(kind: PanelKind, recipe: vscode.Uri): Promise<vscode.WebviewPanel> {
    let entry = this.open.get(kind);
    if (!entry) {
      const dist = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'dist', 'webview');
      const media = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'media');
      // All Lowbit panels share one editor group beside the recipe.
      const column = [...this.open.values()].find((o) => o.panel.viewColumn !== undefined)?.panel.viewColumn ?? vscode.ViewColumn.Beside;
      const panel = vscode.window.createWebviewPanel(`lowbit.${kind}`, TITLES[kind], column, {
        enableScripts: true,
        retainContextWhenHidden: false,
        localResourceRoots: [dist, media],
      });
      panel.iconPath = vscode.Uri.joinPath(media, 'recipe-icon.svg');
      panel.webview.html = panelHtml({
        title: TITLES[kind],
        cspSource: panel.webview.cspSource,
        scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, `${kind}.js`)).toString(),
        styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'panel.css')).toString(),
      });
      const e: Open = { panel, recipe, ready: false, queue: [] };
      entry = e;
      this.open.set(kind, e);
      panel.onDidDispose(() => this.open.delete(kind));
      // Hidden webviews lose their page (retainContextWhenHidden is off) and reload when shown again:
      // queue messages until that page says 'ready', or a reveal followed by a post would be lost.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) e.ready = false;
      });
      panel.webview.onDidReceiveMessage((raw: unknown) => {
        const msg = parseFromWebview(raw);
        if (typeof msg === 'string') {
          this.ctx.output.appendLine(`[${kind} panel] rejected message: ${msg}`);
          return;
        }
        this.handle(kind, e, msg).catch((err: unknown) => this.fail(e, err));
      });
    } else {
      entry.recipe = recipe;
      entry.panel.reveal(undefined, true);
    }
    await this.pushReport(entry, recipe);
    if (kind === 'pareto') this.pushPareto(entry, recipe);
    if (kind === 'sensitivity') {
      const s = this.sensitivity.get(recipe.toString());
      if (s) this.post(entry, { type: 'sensitivity', layers: s, done: true });
    }
    return entry.panel;
  }

  /** True when a panel of `kind` is open (for tests and the e2e suite). */
  isOpen(kind: PanelKind): boolean {
    return this.open.has(kind);
  }

  /** Forwards a server sensitivity update to the sensitivity panel. */
  onSensitivityUpdate(p: SensitivityUpdateNotification.Params): void {
    this.sensitivity.set(p.uri, p.layers);
    const e = this.open.get('sensitivity');
    if (e && e.recipe.toString() === p.uri) this.post(e, { type: 'sensitivity', layers: p.layers, done: p.done });
  }

  /** Runs the sensitivity job with a progress notification (Cancel cancels the request). */
  async runSensitivity(recipe: vscode.Uri): Promise<void> {
    const client = this.ctx.client;
    const result = await withJobProgress(this.ctx, 'Lowbit: measuring layer sensitivity', (workDoneToken, token) =>
      client.sendRequest(SensitivityRequest.type, { uri: recipe.toString(), workDoneToken }, token),
    );
    if (result) this.onSensitivityUpdate({ uri: recipe.toString(), layers: result.layers, done: true });
  }

  private async pushReport(e: Open, recipe: vscode.Uri): Promise<void> {
    // Ask the server every time (a CLI run may have written a newer report); fall back to the last run's.
    const r = await this.ctx.client.sendRequest(ReportRequest.type, { uri: recipe.toString() });
    if (r) {
      const err = checkReport(r.report);
      if (err) throw new Error(`${r.reportPath}: ${err}`);
      this.setReport(recipe, r.report, r.reportPath, r.history);
    }
    const cached = this.reports.get(recipe.toString());
    if (!cached) {
      this.post(e, { type: 'error', message: `No report yet for ${basename(recipe.fsPath)}: run "Lowbit: Compress and Evaluate".` });
      return;
    }
    this.post(e, {
      type: 'report',
      report: cached.report,
      reportPath: cached.reportPath,
      history: cached.history.map((p) => ({ path: p, label: basename(p) })),
    });
  }

  /** Posts the recipe's suggestion, with the measured point when a run's report is newer than it. */
  private pushPareto(e: Open, recipe: vscode.Uri): void {
    const s = this.suggestions.get(recipe.toString());
    if (!s) {
      this.post(e, {
        type: 'error',
        message: `No budget suggestion yet for ${basename(recipe.fsPath)}: run "Lowbit: Suggest Rules for the Budget".`,
      });
      return;
    }
    this.post(e, { type: 'pareto', view: paretoView(s, this.reports.get(recipe.toString())?.report) });
  }

  /** Previews a Pareto point's rules as an edit to the recipe (VS Code asks before applying it). */
  async previewPoint(recipe: vscode.Uri, p: ParetoPick): Promise<boolean> {
    const s = this.suggestions.get(recipe.toString());
    if (!s) throw new Error('No budget suggestion for this recipe.');
    const { yaml, summary } = pointRules(s, p);
    const r = await this.ctx.client.sendRequest(SuggestEditRequest.type, { uri: recipe.toString(), yaml, summary });
    const edit = await this.ctx.client.protocol2CodeConverter.asWorkspaceEdit(r.edit);
    return vscode.workspace.applyEdit(edit, { isRefactoring: true });
  }

  private async handle(kind: PanelKind, e: Open, msg: FromWebview): Promise<void> {
    switch (msg.type) {
      case 'ready':
        e.ready = true;
        for (const m of e.queue.splice(0)) void e.panel.webview.postMessage(m);
        return;
      case 'revealLayer':
        return this.revealRule(e.recipe, msg.layer);
      case 'compare': {
        const known = this.reports.get(e.recipe.toString());
        if (!known?.history.includes(msg.path)) throw new Error(`${msg.path} is not in this recipe's report history`);
        const report: unknown = upgradeReport(JSON.parse(await readFile(msg.path, 'utf8')));
        const err = checkReport(report);
        if (err) throw new Error(`${msg.path}: ${err}`);
        this.post(e, { type: 'compare', report: report as Report, reportPath: msg.path });
        return;
      }
      case 'runSensitivity':
        return this.runSensitivity(e.recipe);
      case 'suggestBudget':
        await vscode.commands.executeCommand('lowbit.suggestBudget', e.recipe);
        return;
      case 'previewPoint':
        await this.previewPoint(e.recipe, msg);
        return;
      case 'applyMixedPrecision': {
        const chosen = await this.applyMixedPrecision(e.recipe, msg.highBits, msg.budgetFraction);
        this.post(e, { type: 'mixedPrecision', chosen });
        return;
      }
    }
    void kind;
  }

  /**
   * Asks the server for an edit giving the most sensitive layers `highBits` within the budget,
   * applies it to the recipe (the user sees the change in the editor) and returns the chosen layers.
   */
  async applyMixedPrecision(recipe: vscode.Uri, highBits: number, budgetFraction: number): Promise<string[]> {
    const layers =
      this.sensitivity.get(recipe.toString()) ??
      this.reports
        .get(recipe.toString())
        ?.report.layers.filter((l) => l.sensitivity)
        .map((l) => ({ name: l.name, proxy: l.sensitivity!.proxy, kl: l.sensitivity!.kl }));
    if (!layers?.length) throw new Error('No sensitivity known yet: press "Measure sensitivity" first.');
    const r = await this.ctx.client.sendRequest(MixedPrecisionRequest.type, { uri: recipe.toString(), layers, highBits, budgetFraction });
    const edit = await this.ctx.client.protocol2CodeConverter.asWorkspaceEdit(r.edit);
    if (!(await vscode.workspace.applyEdit(edit))) throw new Error('VS Code refused the recipe edit.');
    await vscode.window.showTextDocument(recipe, { viewColumn: vscode.ViewColumn.One, preserveFocus: false });
    return r.chosen;
  }

  /** Opens the recipe and selects the rule that governs `layer`. */
  async revealRule(recipe: vscode.Uri, layer: string): Promise<void> {
    const r = await this.ctx.client.sendRequest(RuleForLayerRequest.type, { uri: recipe.toString(), layer });
    const editor = await vscode.window.showTextDocument(recipe, { viewColumn: vscode.ViewColumn.One });
    if (!r) {
      void vscode.window.showInformationMessage(`Lowbit: no recipe rule mentions ${layer}; it uses the defaults.`);
      return;
    }
    const range = this.ctx.client.protocol2CodeConverter.asRange(r.range);
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private post(e: Open, msg: ToWebview): void {
    if (e.ready) void e.panel.webview.postMessage(msg);
    else e.queue.push(msg);
  }

  private fail(e: Open, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.ctx.output.appendLine(`[panel] ${message}`);
    this.post(e, { type: 'error', message });
  }

  dispose(): void {
    for (const e of this.open.values()) e.panel.dispose();
    this.open.clear();
  }
}
