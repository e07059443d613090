/**
 * `lowbit check` refuses what `lowbit run` would refuse only after quantizing (issue 17, item 12):
 * outputs that are inputs, folders, FIFOs or in /proc, a `.lowbit-history` file, unsafe external
 * data. And recipe text is printed with control characters escaped (item 10).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRecipePlan } from '../../../recipe/load';
import { modelHost } from '../../../language-server/src/services/modelSource';
import { loadModel } from '../../../engine/onnx/model';
import { writeModelStreaming } from '../../../engine/export/writeStreaming';
import { runCli } from '../cli/cliHarness';
import { skipNoShared, stories } from '../engine/sharedFixtures';

const recipe = (dir: string, output: string, model = stories.model, name = 'r.lowbit.yaml') => {
  const path = join(dir, name);
  writeFileSync(
    path,
    `version: 1\nmodel: ${model}\noutput: ${output}\nformat: fake\ncalibration:\n  text: ${stories.text}\n  tokenizer: ${stories.tokenizer}\n  samples: 2\ndefaults: { method: rtn, bits: 4 }\n`,
  );
  return path;
};
const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
const errors = async (path: string) => (await loadRecipePlan(path, modelHost)).diagnostics.filter((d) => d.severity === 'error');

describe('lowbit check refuses what run refuses', { skip: skipNoShared }, () => {
  test('output = the tokenizer, the recipe, a folder, a FIFO, /proc, next to a .lowbit-history file', async () => {
    const d = tmp('lowbit-check-parity-');
    const cases: [string, RegExp, (() => void)?][] = [
      [stories.tokenizer, /`output`: output .*tokenizer\.json is the calibration tokenizer/],
      ['./r.lowbit.yaml', /is the recipe/],
      ['./', /exists and is a folder/],
      ['./fifo.onnx', /exists and is a FIFO/, () => execFileSync('mkfifo', [join(d, 'fifo.onnx')])],
      ['/proc/self/out.onnx', /is in \/proc, a virtual file system/],
      [
        './h/out.onnx',
        /\.lowbit-history exists and is a file/,
        () => {
          mkdirSync(join(d, 'h'));
          writeFileSync(join(d, 'h', '.lowbit-history'), '');
        },
      ],
    ];
    for (const [output, re, setup] of cases) {
      setup?.();
      const errs = await errors(recipe(d, output));
      assert.ok(
        errs.some((e) => re.test(e.message) && e.line === 3),
        `${output}: ${JSON.stringify(errs)}`,
      );
    }
    assert.deepEqual(await errors(recipe(d, './ok/out.onnx')), [], 'a good output passes');
  });
  test('a model whose external data is missing (or outside its folder) is refused by check', async () => {
    const d = tmp('lowbit-check-ext-');
    const m = await loadModel(stories.model);
    await writeModelStreaming(m.proto, join(d, 'model.onnx'), {
      inputPath: stories.model,
      src: m.src,
      label: m.path,
      externalData: 'always',
    });
    mkdirSync(join(d, 'alone'));
    renameSync(join(d, 'model.onnx'), join(d, 'alone', 'model.onnx'));
    const errs = await errors(recipe(d, './out.onnx', join(d, 'alone', 'model.onnx')));
    assert.ok(
      errs.some((e) => /external data location 'model\.onnx\.data' which is refused: file not found next to the model/.test(e.message)),
      JSON.stringify(errs),
    );
  });
  test('a real `lowbit check` escapes ANSI escapes and newlines from the recipe', async () => {
    const d = tmp('lowbit-check-ansi-');
    const path = recipe(d, './out.onnx');
    writeFileSync(path, `${'"\\e[31mred\\e[0m\\rkey": 1'}\n` + (await import('node:fs')).readFileSync(path, 'utf8'));
    const r = await runCli(['check', path]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(!/[\x1b\r]/.test(r.stdout), JSON.stringify(r.stdout));
    assert.match(r.stdout, /Unknown key `\\x1b\[31mred\\x1b\[0m\\rkey`/);
  });
});
