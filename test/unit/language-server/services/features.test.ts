import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { hover } from '../../../../language-server/src/services/hover';
import { codeLenses } from '../../../../language-server/src/services/codeLens';
import { codeActions } from '../../../../language-server/src/services/codeActions';
import { documentSymbols } from '../../../../language-server/src/services/symbols';
import { formatRecipe } from '../../../../language-server/src/services/formatting';
import { diagnose } from '../../../../language-server/src/services/diagnostics';
import { ruleForLayer, mixedPrecisionEdit } from '../../../../language-server/src/services/ruleEdits';
import { layerBytes } from '../../../../language-server/src/services/layerDetails';
import { readRecipe } from '../../../../recipe/checkRecipe';
import { resolvePlan } from '../../../../recipe/resolvePlan';
import { analysisOf, cursor, storiesLayers, BASE } from '../fixtures';
import type { Report } from '../../../../protocol/report';

const hoverText = (textWithMarker: string, extra?: (a: ReturnType<typeof analysisOf>) => void) => {
  const { text, offset } = cursor(textWithMarker);
  const a = analysisOf(text);
  extra?.(a);
  const h = hover(a, offset);
  return h ? (h.contents as { value: string }).value : null;
};

test('hover shows key docs, method docs with the paper, and what a pattern matches', () => {
  assert.match(hoverText(`${BASE}calibration:\n  sam|ples: 8\n`)!, /Calibration samples/);
  assert.match(hoverText(`${BASE}layers:\n  - match: x\n    method: gp|tq\n`)!, /GPTQ.*arXiv 2210\.17323/);
  assert.match(hoverText(`${BASE}methods:\n  gptq: { da|mp: 0.1 }\n`)!, /dampening/);
  const m = hoverText(`${BASE}layers:\n  - match: "layers.*.w|2"\n    bits: 8\n`)!;
  assert.match(m, /matches \*\*5\*\* layers/);
  assert.match(m, /layers\.4\.w2/);
});

test('hover on a layer name shows shape, effective settings, size and the last run', () => {
  const report = {
    layers: [
      {
        name: 'output',
        rel_error: 0.0123,
        bits_per_weight: 8.5,
        method: 'gptq',
        bits: 8,
        sensitivity: { proxy: 0.002 },
        low_rank: { rank: 3 },
      },
    ],
  } as unknown as Report;
  const h = hoverText(`${BASE}layers:\n  - match: out|put\n    bits: 8\n`, (a) => {
    a.report = report;
  })!;
  assert.match(h, /\*\*output\*\* — MatMul `\[512 × 64\]`/);
  assert.match(h, /32,768 params/);
  assert.match(h, /\*\*gptq\*\*, 8 bit, group 32, asymmetric \(rules 1\)/);
  assert.match(h, /128\.0 KiB → ≈/);
  assert.match(h, /rel_error 1\.230e-2/);
  assert.match(h, /rank 3/);
});

test('layerBytes counts codes, fp16 scales and packed zero points', () => {
  const l = storiesLayers().find((x) => x.name === 'output')!; // [512, 64]
  assert.equal(layerBytes(l, 4, 32, true), (512 * 64) / 2 + 512 * 2 * 2);
  assert.equal(layerBytes(l, 4, 32, false), (512 * 64) / 2 + 512 * 2 * 2 + 512);
  assert.equal(layerBytes(l, 8, -1, true), 512 * 64 + 512 * 2);
});

test('code lens above each rule counts matched layers', () => {
  const text = `${BASE}layers:\n  - match: "layers.*.w2"\n    bits: 8\n  - match: layers.0.w2\n    bits: 2\n`;
  const lenses = codeLenses(analysisOf(text));
  assert.deepEqual(
    lenses.map((l) => l.command!.title),
    ['matches 5 layers (last rule for 4)', 'matches 1 layer'],
  );
  assert.deepEqual(
    lenses.map((l) => l.range.start),
    [
      { line: 6, character: 4 },
      { line: 8, character: 4 },
    ],
  );
  assert.deepEqual(
    codeLenses(analysisOf(text, undefined as never).constructor ? { ...analysisOf(text), layers: undefined } : analysisOf(text)),
    [],
  );
});

test('quick fixes: did-you-mean, remove dead rule, switch bits and format', () => {
  const text = `${BASE}calibraton:\n  samples: 4\nlayers:\n  - match: output\n    bits: 8\n  - match: output\n    bits: 3\n`;
  const a = analysisOf(text);
  const diags = diagnose(a, () => true);
  const actions = codeActions(a, diags);
  const titles = actions.map((x) => x.title);
  assert.ok(titles.includes("Change to 'calibration'"), titles.join('|'));
  assert.ok(titles.includes('Remove rule 1'));
  assert.ok(titles.includes('Use 4 bits'));
  assert.ok(titles.includes('Switch format to fake'));
  const apply = (title: string) => {
    const edits = actions.find((x) => x.title === title)!.edit!.changes![a.doc.uri];
    return TextDocument.applyEdits(a.doc, edits);
  };
  assert.match(apply("Change to 'calibration'"), /\ncalibration:\n/);
  assert.equal(apply('Remove rule 1'), text.replace('  - match: output\n    bits: 8\n', ''));
  assert.match(apply('Use 4 bits'), /bits: 4\n$/);
  assert.match(apply('Switch format to fake'), /format: fake\n/);
  // packed stores 3 bits compactly: the switch leaves a recipe that resolves with the 3-bit rule kept.
  const packed = apply('Switch format to packed');
  assert.match(packed, /format: packed\n/);
  assert.ok(resolvePlan(readRecipe(packed.replace('calibraton', 'calibration')), storiesLayers()).plan, 'packed takes the 3-bit rule');
  const fixed = apply('Remove rule 1').replace('calibraton', 'calibration').replace('bits: 3', 'bits: 4');
  assert.ok(resolvePlan(readRecipe(fixed), storiesLayers()).plan, 'the fixed recipe resolves');
});

test('document symbols list sections and rules by pattern', () => {
  const syms = documentSymbols(analysisOf(`${BASE}layers:\n  - match: "layers.*.w2"\n    bits: 8\n`));
  assert.deepEqual(
    syms.map((s) => s.name),
    ['version', 'model', 'output', 'format', 'defaults', 'layers'],
  );
  assert.deepEqual(
    syms[5].children!.map((s) => s.name),
    ['rule 1: layers.*.w2'],
  );
  assert.deepEqual(
    syms[4].children!.map((s) => s.name),
    ['method', 'bits', 'group_size'],
  );
});

test('formatting keeps comments and normalizes indentation', () => {
  const text = 'version: 1   # the format\nlayers:\n    -   match: output   # lm head\n        bits: 8\n';
  const doc = TextDocument.create('file:///x.lowbit.yaml', 'lowbit-recipe', 1, text);
  const out = TextDocument.applyEdits(doc, formatRecipe(doc));
  assert.match(out, /# the format/);
  assert.match(out, /# lm head/);
  assert.match(out, /\n {2}- match: output/);
  assert.deepEqual(readRecipe(out).values, readRecipe(text).values);
  assert.deepEqual(formatRecipe(TextDocument.create('file:///x', 'y', 1, out)), []);
  assert.deepEqual(formatRecipe(TextDocument.create('file:///x', 'y', 1, 'a: [')), []);
});

test('ruleForLayer and a mixed-precision edit that resolves', () => {
  const text = `${BASE}layers:\n  - match: "layers.*.w2"\n    bits: 8\n  - match: output\n    skip: true\n`;
  const a = analysisOf(text);
  assert.deepEqual(ruleForLayer(a, 'layers.2.w2'), {
    range: { start: { line: 6, character: 4 }, end: { line: 7, character: 11 } },
    rule: 0,
  });
  assert.equal(ruleForLayer(a, 'layers.2.wq')?.rule, null);
  assert.equal(ruleForLayer(a, 'nope'), null);
  const sens = storiesLayers().map((l, i) => ({ name: l.name, proxy: i }));
  const { edit, chosen } = mixedPrecisionEdit(a, sens, 8, 0.05);
  assert.ok(chosen.length > 0 && !chosen.includes('output') && !chosen.some((n) => n.endsWith('w2')));
  const next = TextDocument.applyEdits(a.doc, edit.changes![a.doc.uri]);
  const { plan } = resolvePlan(readRecipe(next), storiesLayers());
  assert.ok(plan, next);
  for (const n of chosen) assert.equal(plan.layers.find((l) => l.name === n)!.bits, 8);
  assert.equal(plan.layers.filter((l) => l.bits === 8).length, chosen.length + 5);
});

test('missing files are reported at the path value', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-files-'));
  const text = `${BASE}calibration:\n  text: ./nope.txt\n  tokenizer: ./tok.json\n`;
  fs.writeFileSync(path.join(dir, 'tok.json'), '{}');
  fs.writeFileSync(path.join(dir, 'model.onnx'), 'x');
  const a = analysisOf(text, storiesLayers(), `file://${dir}/r.lowbit.yaml`);
  const ds = diagnose(a, (p) => fs.existsSync(p)).filter((d) => d.code === 'missing-file');
  assert.equal(ds.length, 1);
  assert.deepEqual(ds[0].range, { start: { line: 6, character: 8 }, end: { line: 6, character: 18 } });
  fs.rmSync(dir, { recursive: true });
});
