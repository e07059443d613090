/**
 * The webview's link to the extension host: typed postMessage, validated incoming messages,
 * and persisted state (getState/setState) so a hidden-then-shown panel comes back as it was.
 */
import { parseToWebview, type FromWebview, type ToWebview } from '../protocol';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api: VsCodeApi = acquireVsCodeApi();

/** Sends a message to the extension host. */
export function post(msg: FromWebview): void {
  api.postMessage(msg);
}

/** Reads the persisted panel state (or `fallback`). */
export function loadState<S extends object>(fallback: S): S {
  const s = api.getState();
  return typeof s === 'object' && s !== null ? { ...fallback, ...(s as Partial<S>) } : fallback;
}

/** Persists the panel state. */
export function saveState<S extends object>(s: S): void {
  api.setState(s);
}

/**
 * Subscribes to host messages; malformed or unknown messages are rejected (logged and shown in
 * the panel's error line) and never reach `handler`.
 */
export function onMessage(handler: (msg: ToWebview) => void): void {
  window.addEventListener('message', (e: MessageEvent) => {
    const msg = parseToWebview(e.data);
    if (typeof msg === 'string') {
      console.warn(`lowbit webview: rejected message: ${msg}`);
      showError(`Rejected a malformed message: ${msg}`);
      return;
    }
    if (msg.type === 'error') showError(msg.message);
    else {
      document.getElementById('error')?.remove();
      handler(msg);
    }
  });
}

/** Shows an error line at the top of the panel. */
export function showError(text: string): void {
  let el = document.getElementById('error');
  if (!el) {
    el = document.createElement('div');
    el.id = 'error';
    el.setAttribute('role', 'alert');
    document.body.prepend(el);
  }
  el.textContent = text;
}
