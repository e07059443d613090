/** Shared test fixtures: a stories260K-shaped synthetic layer list and `|` cursor markers. */
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { LayerInfo } from '../../../protocol/model';
import { analyze } from '../../../language-server/src/services/analysis';
import type { RecipeAnalysis } from '../../../language-server/src/services/analysis';

function layer(name: string, out: number, inp: number): LayerInfo {
  return {
    name,
    op: 'MatMul',
    node: `${name}_MatMul`,
    shape: [out, inp],
    dims: [inp, out],
    params: out * inp,
    dtype: 'float32',
    quantizable: true,
  };
}

/** The 36 MatMul layers of stories260K (dim 64, hidden 172, vocab 512), shapes as [out, in]. */
export function storiesLayers(): LayerInfo[] {
  const out: LayerInfo[] = [];
  for (let i = 0; i < 5; i++) {
    for (const w of ['wq', 'wk', 'wv', 'wo']) out.push(layer(`layers.${i}.${w}`, 64, 64));
    out.push(layer(`layers.${i}.w1`, 172, 64), layer(`layers.${i}.w2`, 64, 172), layer(`layers.${i}.w3`, 172, 64));
  }
  out.push(layer('output', 512, 64));
  return out;
}

/** `n` synthetic layers (blocks of 7 like a Llama block), for benchmarks. */
export function syntheticLayers(n: number): LayerInfo[] {
  const names = ['wq', 'wk', 'wv', 'wo', 'w1', 'w2', 'w3'];
  return Array.from({ length: n }, (_, i) => layer(`model.layers.${Math.floor(i / 7)}.${names[i % 7]}`, 256, 256));
}

/** Split `text` at its `|` marker: the text without it and the marker's offset. */
export function cursor(textWithMarker: string): { text: string; offset: number } {
  const offset = textWithMarker.indexOf('|');
  if (offset < 0) throw new Error('no | marker in test text');
  return { text: textWithMarker.slice(0, offset) + textWithMarker.slice(offset + 1), offset };
}

/** An analysis of `text` as /work/x/recipe.lowbit.yaml with the given layers. */
export function analysisOf(
  text: string,
  layers: LayerInfo[] | undefined = storiesLayers(),
  uri = 'file:///tmp/lowbit-test/recipe.lowbit.yaml',
): RecipeAnalysis {
  return analyze(TextDocument.create(uri, 'lowbit-recipe', 1, text), { layers });
}

/** The text covered by a [start, end) span. */
export function slice(text: string, span: { start: number; end: number }): string {
  return text.slice(span.start, span.end);
}

export const BASE = `version: 1
model: ./model.onnx
output: ./out/model-w4.onnx
format: matmulnbits
defaults: { method: gptq, bits: 4, group_size: 32 }
`;
