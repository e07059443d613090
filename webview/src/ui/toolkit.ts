/**
 * The one module that knows which web-component library the panels use
 * (@vscode/webview-ui-toolkit today; moving to @vscode-elements/elements is a change here only).
 * Panels create controls through these helpers and never import the library themselves.
 */
import { provideVSCodeDesignSystem, vsCodeButton, vsCodeDropdown, vsCodeOption, vsCodeDivider } from '@vscode/webview-ui-toolkit';

let registered = false;

/** Registers the components once per page. */
export function registerToolkit(): void {
  if (registered) return;
  provideVSCodeDesignSystem().register(vsCodeButton(), vsCodeDropdown(), vsCodeOption(), vsCodeDivider());
  registered = true;
}

/** A themed button; `appearance` secondary for less prominent actions. */
export function button(id: string, label: string, onClick: () => void, appearance: 'primary' | 'secondary' = 'primary'): HTMLElement {
  const b = document.createElement('vscode-button');
  b.id = id;
  b.setAttribute('appearance', appearance);
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

/** A themed dropdown; calls `onChange` with the chosen value. */
export function dropdown(
  id: string,
  options: { value: string; label: string }[],
  selected: string | undefined,
  onChange: (value: string) => void,
): HTMLElement {
  const d = document.createElement('vscode-dropdown') as HTMLElement & { value: string };
  d.id = id;
  for (const o of options) {
    const opt = document.createElement('vscode-option');
    opt.setAttribute('value', o.value);
    opt.textContent = o.label;
    if (o.value === selected) opt.setAttribute('selected', '');
    d.appendChild(opt);
  }
  d.addEventListener('change', () => onChange(d.value));
  return d;
}

/**
 * A small themed badge (counts, labels). A plain span styled with the badge theme colours: the
 * toolkit's <vscode-badge> template carries an inline style attribute that our strict CSP blocks.
 */
export function badge(text: string): HTMLElement {
  const b = document.createElement('span');
  b.className = 'badge';
  b.textContent = text;
  return b;
}

/** A themed horizontal divider. */
export function divider(): HTMLElement {
  return document.createElement('vscode-divider');
}
