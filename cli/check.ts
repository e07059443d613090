/**
 * `lowbit check <recipe> [--json]`: check a recipe against its model without running anything.
 * Prints `file:line:column: severity: message` lines (or `{"diagnostics":[…]}`); exit 1 on errors.
 */
import { loadRecipePlan } from '../recipe/load';
import { modelHost } from '../language-server/src/services/modelSource';
import { printable } from './printable';

/** CLI entry; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length !== 1) {
    process.stderr.write('usage: lowbit check <recipe.lowbit.yaml> [--json]\n');
    return 2;
  }
  const { plan, diagnostics } = await loadRecipePlan(files[0], modelHost);
  if (json) process.stdout.write(`${JSON.stringify({ diagnostics }, null, 2)}\n`);
  else {
    // Written in chunks, not a write per line: 54k diagnostics of a 2 MB recipe (issue 17).
    let chunk = '';
    const file = diagnostics.length ? printable(diagnostics[0].file) : '';
    for (const d of diagnostics) {
      chunk += `${d.file === diagnostics[0].file ? file : printable(d.file)}:${d.line}:${d.column}: ${d.severity}: ${printable(d.message)}\n`;
      if (chunk.length > 1 << 16) {
        process.stdout.write(chunk);
        chunk = '';
      }
    }
    process.stdout.write(chunk);
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    if (plan)
      process.stdout.write(
        `ok: ${plan.layers.length} layers to quantize, ${plan.skipped.length} skipped (${diagnostics.length - errors} warnings/notes)\n`,
      );
    else process.stdout.write(`${errors} error(s)\n`);
  }
  return diagnostics.some((d) => d.severity === 'error') ? 1 : 0;
}
