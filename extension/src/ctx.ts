/**
 * The extension's state: the LanguageClient (IPC to dist/server.js), the status bar item, the
 * panels and everything that must be disposed. Commands receive a Ctx and never build their own.
 */
import * as vscode from 'vscode';
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { SensitivityUpdateNotification } from '../../protocol/messages';
import { PanelManager } from './panels/panelManager';

/** Sent when the user grants workspace trust after the server started untrusted. */
export const TRUST_GRANTED_METHOD = 'lowbit/setTrusted';

export type ServerHealth = 'starting' | 'ready' | 'running' | 'stopped' | 'error';

export class Ctx implements vscode.Disposable {
  private _client: LanguageClient | undefined;
  private readonly status: vscode.StatusBarItem;
  readonly output: vscode.LogOutputChannel;
  readonly panels: PanelManager;
  private readonly disposables: vscode.Disposable[] = [];
  /** The running compression job's cancellation source (undefined when idle). */
  currentJob: vscode.CancellationTokenSource | undefined;
  /** The running job's last reported percentage (undefined before its first report). */
  jobProgress: number | undefined;
  /** The recipe the last command ran on (fallback when no recipe editor is active). */
  lastRecipe: vscode.Uri | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('Lowbit', { log: true });
    this.status = vscode.window.createStatusBarItem('lowbit.status', vscode.StatusBarAlignment.Left, 10);
    this.status.name = 'Lowbit';
    this.status.command = 'lowbit.showReport';
    this.panels = new PanelManager(this);
    this.disposables.push(
      this.output,
      this.status,
      this.panels,
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        void this._client?.sendNotification(TRUST_GRANTED_METHOD, { trusted: true });
      }),
    );
  }

  /** The running client; throws a clear error when the server is not running. */
  get client(): LanguageClient {
    if (!this._client) throw new Error('The Lowbit language server is not running (run "Lowbit: Restart Language Server").');
    return this._client;
  }

  /** Starts the language server (dist/server.js over IPC). */
  async start(): Promise<void> {
    const module = this.extension.asAbsolutePath('dist/server.js');
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ language: 'lowbit-recipe' }],
      initializationOptions: {
        trusted: vscode.workspace.isTrusted,
        threads: vscode.workspace.getConfiguration('lowbit').get<number>('threads', 0),
      },
      outputChannel: this.output,
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.{lowbit.yaml,lowbit.yml,onnx,json,txt}') },
    };
    this.setHealth('starting');
    const client = new LanguageClient('lowbit', 'Lowbit Language Server', serverOptions, clientOptions);
    this._client = client;
    client.onDidChangeState((e) => this.setHealth(e.newState === 2 ? 'ready' : e.newState === 1 ? 'stopped' : 'starting'));
    try {
      await client.start();
    } catch (e) {
      this.setHealth('error', e instanceof Error ? e.message : String(e));
      throw e;
    }
    client.onNotification(SensitivityUpdateNotification.type, (p) => this.panels.onSensitivityUpdate(p));
    this.setHealth('ready');
  }

  /** Stops the server (if running). */
  async stop(): Promise<void> {
    const c = this._client;
    this._client = undefined;
    if (c) await c.stop().catch((e: unknown) => this.output.appendLine(`stop: ${String(e)}`));
    this.setHealth('stopped');
  }

  /** Updates the status bar item for the server's health (and an optional job message). */
  setHealth(health: ServerHealth, detail?: string): void {
    const icon = { starting: '$(sync~spin)', ready: '$(pulse)', running: '$(loading~spin)', stopped: '$(debug-stop)', error: '$(error)' }[
      health
    ];
    this.status.text = `${icon} Lowbit`;
    this.status.tooltip = new vscode.MarkdownString(
      `**Lowbit** language server: ${health}${detail ? `\n\n${detail}` : ''}\n\nClick to show the last report.`,
    );
    this.status.backgroundColor = health === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.status.show();
  }

  /** Cancels the running job, as the progress notification's Cancel button does; false when idle. */
  cancelJob(): boolean {
    if (!this.currentJob) return false;
    this.currentJob.cancel();
    return true;
  }

  /** Registers a disposable for deactivation. */
  push(d: vscode.Disposable): void {
    this.disposables.push(d);
  }

  dispose(): void {
    void this.stop();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
