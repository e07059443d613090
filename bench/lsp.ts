/**
 * Language-server latency on a large recipe: 200 rules over a 500-layer (synthetic) model.
 * Measures completion, hover and full diagnostics through the same services the server uses.
 * Targets (printed, not asserted): completion and hover ≤ 50 ms, diagnostics ≤ 200 ms.
 */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { LayerInfo } from '../protocol/model';
import { analyze } from '../language-server/src/services/analysis';
import { complete } from '../language-server/src/services/completion';
import { hover } from '../language-server/src/services/hover';
import { diagnose } from '../language-server/src/services/diagnostics';
import { codeLenses } from '../language-server/src/services/codeLens';

function layers(n: number): LayerInfo[] {
  const kinds = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'];
  return Array.from({ length: n }, (_, i) => {
    const name = `model.layers.${Math.floor(i / kinds.length)}.${kinds[i % kinds.length]}`;
    return {
      name,
      op: 'MatMul',
      node: `${name}/MatMul`,
      shape: [1024, 1024] as [number, number],
      dims: [1024, 1024],
      params: 1 << 20,
      dtype: 'float32' as const,
      quantizable: true,
    };
  });
}

function recipe(rules: number, nLayers: number): string {
  const lines = [
    'version: 1',
    'model: ./model.onnx',
    'output: ./out/model.onnx',
    'format: matmulnbits',
    'defaults: { method: gptq, bits: 4, group_size: 128 }',
    'layers:',
  ];
  const blocks = Math.ceil(nLayers / 7);
  for (let i = 0; i < rules; i++) {
    const pattern =
      i % 3 === 0
        ? `"model.layers.${i % blocks}.*"`
        : i % 3 === 1
          ? `"re:model\\\\.layers\\\\.${i % blocks}\\\\.w[123]"`
          : `model.layers.${i % blocks}.wq`;
    lines.push(`  - match: ${pattern}`, `    bits: ${i % 2 ? 8 : 4}`);
  }
  lines.push('methods:', '  gptq: { damp: 0.01 }', '');
  return lines.join('\n');
}

function time(label: string, target: number, reps: number, fn: () => unknown): void {
  fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  const p50 = t[Math.floor(reps / 2)];
  const max = t[reps - 1];
  console.log(
    `${label.padEnd(34)} p50 ${p50.toFixed(1).padStart(7)} ms  max ${max.toFixed(1).padStart(7)} ms  target ${target} ms  ${p50 <= target ? 'ok' : 'SLOW'}`,
  );
}

/** Run the benchmark and print one line per measurement. */
export async function main(): Promise<void> {
  const L = layers(500);
  const text = recipe(200, 500);
  const doc = TextDocument.create('file:///tmp/bench/recipe.lowbit.yaml', 'lowbit-recipe', 1, text);
  console.log(`lsp: ${text.split('\n').length} lines, 200 rules, ${L.length} layers`);
  const matchAt = text.indexOf('match: ', text.length / 2) + 'match: '.length;
  // Each request re-analyzes the text (as after an edit), so the numbers include parsing.
  time('completion (layer names, after edit)', 50, 20, () => complete(analyze(doc, { layers: L }), matchAt));
  time('completion (rule keys, after edit)', 50, 20, () => complete(analyze(doc, { layers: L }), text.indexOf('    bits', matchAt)));
  time('hover (pattern, after edit)', 50, 20, () => hover(analyze(doc, { layers: L }), matchAt + 2));
  time('diagnostics (full, after edit)', 200, 10, () => diagnose(analyze(doc, { layers: L }), () => true));
  time('code lens (after edit)', 200, 10, () => codeLenses(analyze(doc, { layers: L })));
}

if (require.main === module) void main();
