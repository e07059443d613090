/**
 * The life cycle every panel shares: render now and on every theme change, and after each host message
 * the panel accepts (persisting its state first), then tell the extension the panel is ready.
 */
import type { ToWebview } from '../protocol';
import { onMessage, post, saveState } from './vscodeApi';
import { onThemeChange } from './theme';

export interface PanelLifecycle {
  /** Applies a host message to the panel state; false when the panel ignores this message type. */
  handle(msg: ToWebview): boolean;
  /** The current state, persisted after every accepted message. */
  state(): object;
  render(): void;
}

/** Starts a panel: see the file comment. */
export function startPanel(p: PanelLifecycle): void {
  onMessage((msg) => {
    if (!p.handle(msg)) return;
    saveState(p.state());
    p.render();
  });
  p.render();
  onThemeChange(() => p.render());
  post({ type: 'ready' });
}
