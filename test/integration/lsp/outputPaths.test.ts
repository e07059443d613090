/**
 * The editor shows the output-path problems that `lowbit check` and `run` refuse (issue 17): an
 * output that is an input (the recipe, the tokenizer, the model, its external data), a folder, a FIFO,
 * a path in /proc — published by a real server over stdio as errors on the `output:` line, from the
 * same checks as the CLI (recipe/load.ts's outputPathDiagnostics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSession, storiesModel, sharedDir } from './lspClient';
import { loadModel } from '../../../engine/onnx/model';
import { writeModelStreaming } from '../../../engine/export/writeStreaming';

const tokenizer = path.join(path.dirname(storiesModel), 'tokenizer.json');
const text = path.join(sharedDir, 'data', 'tinystories-sample.txt');
const skip = [storiesModel, tokenizer, text].every((p) => fs.existsSync(p))
  ? false
  : `stories260K not found at ${storiesModel} (needs ../shared)`;

const recipe = (output: string, model = storiesModel) =>
  `version: 1\nmodel: ${model}\noutput: ${output}\nformat: fake\ncalibration:\n  text: ${text}\n  tokenizer: ${tokenizer}\n  samples: 2\ndefaults: { method: rtn, bits: 4 }\n`;

test('output-path problems are published on the output line by a real server', { skip, timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-lsp-outputs-'));
  execFileSync('mkfifo', [path.join(dir, 'fifo.onnx')]);
  fs.mkdirSync(path.join(dir, 'folder.onnx'));
  // A model whose weights live in an external data file next to it.
  const m = await loadModel(storiesModel);
  fs.mkdirSync(path.join(dir, 'm'));
  await writeModelStreaming(m.proto, path.join(dir, 'm', 'model.onnx'), {
    inputPath: storiesModel,
    src: m.src,
    label: m.path,
    externalData: 'always',
  });
  const s = await startSession();
  try {
    const cases: [string, RegExp, string?][] = [
      ['./r0.lowbit.yaml', /`output`: output .*r0\.lowbit\.yaml is the recipe/],
      [tokenizer, /`output`: output .*tokenizer\.json is the calibration tokenizer/],
      [text, /is the calibration text/],
      [storiesModel, /`output` is the input model/],
      ['./folder.onnx', /exists and is a folder/],
      ['./fifo.onnx', /exists and is a FIFO/],
      ['/proc/self/out.onnx', /is in \/proc, a virtual file system/],
      ['./m/model.onnx.data', /is the input model's external data/, path.join(dir, 'm', 'model.onnx')],
    ];
    for (const [i, [output, re, model]] of cases.entries()) {
      const uri = `file://${dir}/r${i}.lowbit.yaml`;
      const published = s.diagnostics(uri);
      s.open(uri, recipe(output, model));
      const { diagnostics } = await published;
      const hit = diagnostics.find((d) => re.test(String(d.message)));
      assert.ok(hit, `${output}: ${JSON.stringify(diagnostics)}`);
      assert.equal(hit.range.start.line, 2, 'on the output line');
      assert.equal(hit.severity, 1, 'an error');
    }
    // A good output gets no such error; the FIFO and the folder are still what they were.
    const ok = `file://${dir}/ok.lowbit.yaml`;
    const published = s.diagnostics(ok);
    s.open(ok, recipe('./out/w4.onnx'));
    assert.deepEqual(
      (await published).diagnostics.filter((d) => d.severity === 1),
      [],
    );
    assert.ok(fs.statSync(path.join(dir, 'fifo.onnx')).isFIFO());
    assert.ok(fs.statSync(path.join(dir, 'folder.onnx')).isDirectory());
  } finally {
    await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
