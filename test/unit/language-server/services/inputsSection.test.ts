import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { complete } from '../../../../language-server/src/services/completion';
import { hover } from '../../../../language-server/src/services/hover';
import { diagnose } from '../../../../language-server/src/services/diagnostics';
import { analyze } from '../../../../language-server/src/services/analysis';
import type { ModelSummary } from '../../../../protocol/model';
import { cursor, storiesLayers, BASE } from '../fixtures';

const INPUTS: ModelSummary['inputs'] = [
  { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', dims: ['batch', 'total'] },
  { name: 'past_key_values.0.key', dtype: 'float16', dims: ['batch', 4, 'past', 8] },
  { name: 'temperature', dtype: 'float32', dims: [1] },
];
const at = (textWithMarker: string) => {
  const { text, offset } = cursor(textWithMarker);
  return {
    a: analyze(TextDocument.create('file:///tmp/lowbit-test/r.lowbit.yaml', 'lowbit-recipe', 1, text), {
      layers: storiesLayers(),
      inputs: INPUTS,
    }),
    offset,
  };
};

test("inputs: completes the model's real input names (minus those present) with the rule each would get", () => {
  const { a, offset } = at(`${BASE}inputs:\n  attention_mask: attention_mask\n  |`);
  const items = complete(a, offset);
  assert.deepEqual(
    items.map((i) => i.label),
    ['input_ids', 'past_key_values.0.key', 'temperature'],
  );
  assert.equal(items.find((i) => i.label === 'past_key_values.0.key')!.textEdit!.newText, 'past_key_values.0.key: empty_past');
  assert.match(String((items.find((i) => i.label === 'temperature')!.documentation as { value: string }).value), /No rule binds it/);
});

test('inputs values complete the binding rules; hover on a key shows the input and its default rule', () => {
  const { a, offset } = at(`${BASE}inputs:\n  temperature: |`);
  const labels = complete(a, offset).map((i) => i.label);
  assert.ok(labels.includes('empty_past') && labels.includes('seqlens_k') && labels.includes('token_ids'));
  const h = at(`${BASE}inputs:\n  past_key_v|alues.0.key: empty_past\n`);
  const md = (hover(h.a, h.offset)!.contents as { value: string }).value;
  assert.match(md, /Model input \*\*past_key_values\.0\.key\*\* — float16 \[batch, 4, past, 8\]\. The rule table binds it to `empty_past`/);
});

test('diagnostics: unbindable input, unknown input name, bad rule', () => {
  const msgs = (text: string) => {
    const { a } = at(`${text}|`);
    return diagnose(a, () => true).map((d) => String(d.message));
  };
  assert.ok(
    msgs(BASE).some((m) => /cannot bind model input 'temperature' \(float32 \[1\]\).*inputs: \{ temperature: 0 \}/.test(m)),
    msgs(BASE).join('\n'),
  );
  const fixed = msgs(`${BASE}inputs:\n  temperature: 0.5\n`);
  assert.ok(!fixed.some((m) => /temperature/.test(m)), fixed.join('\n'));
  const bad = msgs(`${BASE}inputs:\n  temperatur: 0.5\n  attention_mask: ones\n`);
  assert.ok(
    bad.some((m) => /`temperatur` is not an input of the model.*Did you mean `temperature`\?/.test(m)),
    bad.join('\n'),
  );
  assert.ok(bad.some((m) => /`inputs\.attention_mask` must be a number or one of token_ids/.test(m)));
});
