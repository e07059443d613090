/**
 * Issue 18 in the real VS Code: a recipe with `budget: { bits_per_weight: 3.5 }` → the code lens's
 * "Suggest rules for this budget" → the edit opens in the Refactor Preview and is accepted with its
 * Apply command (the preview's ✓ button) → Compress and Evaluate → the Pareto panel is sent the measured
 * point (KL, perplexity) at the suggested size. Then a clicked point's rules preview and apply the same way.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { statSync } from 'node:fs';
import { api, openRecipe, haveModel, waitFor } from './helpers';
import type { CompressOutcome } from '../../../extension/src/commands/compressAndEvaluate';
import type { SuggestOutcome } from '../../../extension/src/commands/suggestBudget';
import type { ParetoView } from '../../../webview/src/protocol';

const BEGIN = '# lowbit suggest: begin';

const previewOpen = () => vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.label.startsWith('Refactor Preview')));

/**
 * Runs `start` (something that ends in a workspace edit needing confirmation) and accepts the edit the
 * way a user does in the Refactor Preview: such changes start unchecked, so select the file there (its
 * diff opens as the "Refactor Preview (1 file)" editor), check it, and press Apply. Returns what `start` returned.
 */
async function acceptingPreview<T>(start: () => Thenable<T>, ms = 300_000): Promise<T> {
  const state = { settled: false };
  const run = Promise.resolve(start()).finally(() => {
    state.settled = true;
  });
  // The preview's tree takes the focus when the edit arrives: select its first entry (the recipe) until its diff opens.
  await waitFor(
    'the edit to open in the Refactor Preview',
    async () => {
      if (state.settled || previewOpen()) return true;
      // The tree may still be empty while the edit arrives ("Invalid index 0"): try again on the next poll.
      try {
        await vscode.commands.executeCommand('list.focusFirst');
        await vscode.commands.executeCommand('list.select');
      } catch {
        /* not filled yet */
      }
      return false;
    },
    ms,
  );
  if (!state.settled) {
    await vscode.commands.executeCommand('refactorPreview.toggleCheckedState');
    await vscode.commands.executeCommand('refactorPreview.apply');
  }
  return run;
}

/** Records what the extension posts to a webview panel (the webview message protocol). */
function recordPosts(panel: vscode.WebviewPanel): unknown[] {
  const posted: unknown[] = [];
  const webview = panel.webview;
  const post = webview.postMessage.bind(webview);
  (webview as { postMessage: (m: unknown) => Thenable<boolean> }).postMessage = (m: unknown) => {
    posted.push(m);
    return post(m);
  };
  return posted;
}

const paretoViews = (posted: unknown[]) =>
  posted.filter((m): m is { type: 'pareto'; view: ParetoView } => (m as { type?: string }).type === 'pareto').map((m) => m.view);

suite('budget', () => {
  test('suggest from the recipe, accept the edit, run: the Pareto panel gets the measured point at the suggested size', async function () {
    if (!haveModel()) this.skip();
    this.timeout(600_000);
    const a = await api();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    const editor = await openRecipe('budget.lowbit.yaml');
    const uri = editor.document.uri;
    assert.ok(!editor.document.getText().includes(BEGIN), 'a fresh recipe');

    // The code lens above `budget:` is how the user starts it.
    const lenses = await waitFor('the budget code lens', async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100);
      return l?.find((x) => x.command?.command === 'lowbit.suggestBudget');
    });
    const lens = lenses.command!;
    const outcome = await acceptingPreview(() => vscode.commands.executeCommand<SuggestOutcome>(lens.command, ...(lens.arguments ?? [])));
    assert.ok(outcome, 'the suggestion finished');
    assert.equal(outcome.applied, true, 'the accepted edit was applied');
    const s = outcome.result;
    assert.equal(s.layers.length, 35);
    const text = editor.document.getText();
    assert.ok(text.includes(BEGIN), `the rules are in the recipe:\n${text}`);
    for (const r of s.rules)
      assert.ok(text.includes(`match: "${r.match}"`) || text.includes(`match: ${r.match}`), `rule ${r.match} written`);

    // The Pareto panel (opened by the suggestion) hears about the run.
    const pareto = await vscode.commands.executeCommand<vscode.WebviewPanel>('lowbit.showPareto', uri);
    assert.equal(pareto.viewType, 'lowbit.pareto');
    const posted = recordPosts(pareto);
    await vscode.commands.executeCommand('lowbit.showPareto', uri);
    const suggested = await waitFor('the panel to be sent the suggestion', () => paretoViews(posted).at(-1));
    assert.equal(suggested.chosen.bitsPerWeight, s.chosen.bitsPerWeight);
    assert.equal(suggested.measured, undefined, 'no run yet');
    const run = await vscode.commands.executeCommand<CompressOutcome>('lowbit.compressAndEvaluate', uri);
    assert.ok(run, 'the run finished');
    const fileBytes = statSync(run.report.output).size;
    assert.equal(fileBytes, s.chosen.fileBytes, 'the run writes the bytes the planner measured');
    const bpw = ((fileBytes - s.fixedBytes) * 8) / s.params;
    assert.ok(bpw <= 3.5, `${bpw} bits/weight stored`);
    const kl = run.report.metrics.kl_divergence?.mean;
    const ppl = run.report.metrics.quantized.perplexity;
    assert.ok(kl !== undefined && kl > 0 && Number.isFinite(kl), `KL ${kl}`);
    const measured = paretoViews(posted).find((v) => v.measured)?.measured;
    assert.ok(measured, `the panel was sent the measured point (${JSON.stringify(posted).slice(0, 300)})`);
    assert.deepEqual(measured, { bitsPerWeight: bpw, kl, perplexity: ppl });
    assert.ok(Math.abs(measured.bitsPerWeight - s.chosen.bitsPerWeight) < 1e-9, 'measured at the suggested size');

    // Shown again (the page reloads when a hidden panel is revealed), it gets the same point once ready.
    const before = posted.length;
    await vscode.commands.executeCommand('lowbit.showPareto', uri);
    const again = await waitFor('the revealed panel to be sent its view', () => paretoViews(posted.slice(before)).at(-1));
    assert.deepEqual(again.measured, measured);

    // A clicked point (the uniform 2-bit per-row candidate) previews its rules; applied, they replace the suggestion's.
    const k = s.candidates.findIndex((c) => c.bits === 2 && c.groupSize === -1);
    const applied = await acceptingPreview(() => a.ctx.panels.previewPoint(uri, { set: 'uniform', index: k }));
    assert.equal(applied, true);
    const after = editor.document.getText();
    assert.equal(after.split(BEGIN).length, 2, 'one suggestion block');
    const block = after.slice(after.indexOf(BEGIN), after.indexOf('# lowbit suggest: end'));
    for (const line of s.uniform[k].yaml!.split('\n').filter((l) => l.trim()))
      assert.ok(block.includes(line.trim()), `${line} in\n${block}`);
    assert.deepEqual([...new Set(block.match(/bits: \d+|group_size: -?\d+/g))].sort(), ['bits: 2', 'group_size: -1']);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });
});
