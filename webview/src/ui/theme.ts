/** Reads VS Code's theme colours (CSS variables) so charts follow light, dark and high-contrast themes. */

/** The value of a CSS variable on <html>, or `fallback`. */
export function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** The colours the charts use. */
export function chartColors() {
  return {
    fg: cssVar('--vscode-foreground', '#cccccc'),
    grid: cssVar('--vscode-editorWidget-border', 'rgba(128,128,128,0.35)'),
    primary: cssVar('--vscode-charts-blue', '#3794ff'),
    secondary: cssVar('--vscode-charts-orange', '#d18616'),
    highlight: cssVar('--vscode-charts-red', '#f14c4c'),
    ok: cssVar('--vscode-charts-green', '#89d185'),
  };
}

/** True when VS Code runs a high-contrast theme (the body carries the class). */
export function isHighContrast(): boolean {
  return document.body.classList.contains('vscode-high-contrast') || document.body.classList.contains('vscode-high-contrast-light');
}

/** Calls `cb` when VS Code switches theme (it swaps the body's vscode-* classes), so charts re-read colours. */
export function onThemeChange(cb: () => void): void {
  new MutationObserver(() => cb()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
