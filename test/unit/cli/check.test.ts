import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const shared = path.resolve(root, '..', 'shared');
const skip = fs.existsSync(path.join(shared, 'models/stories260K/model.onnx'))
  ? false
  : `stories260K not found under ${shared} (needs ../shared)`;

function check(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', `require('./cli/check').main(${JSON.stringify(args)}).then((c) => { process.exitCode = c; })`],
    { cwd: root, encoding: 'utf8' },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('lowbit check --json reports every problem at file:line:column and exits 1', { skip }, () => {
  const file = path.join(root, 'test/fixtures/recipes/stories-errors.lowbit.yaml');
  const { code, out, err } = check(file, '--json');
  assert.equal(code, 1, err);
  const { diagnostics } = JSON.parse(out) as {
    diagnostics: { file: string; line: number; column: number; severity: string; message: string }[];
  };
  const at = (line: number, column: number) => diagnostics.find((d) => d.line === line && d.column === column);
  assert.match(at(4, 9)!.message, /`output` is the input model/);
  assert.match(at(7, 9)!.message, /file not found/);
  assert.match(at(9, 3)!.message, /Unknown key `sampels`.*Did you mean `samples`/);
  assert.match(at(13, 11)!.message, /matmulnbits cannot store 3-bit/);
  assert.equal(at(14, 12)!.severity, 'warning');
  assert.match(at(17, 10)!.message, /rtn does not take `damp`/);
  assert.ok(diagnostics.every((d) => d.file === file));
});

test('lowbit check passes the stories260K examples with exit 0', { skip }, () => {
  const { code, out, err } = check(path.join(root, 'examples/stories260K.lowbit.yaml'));
  assert.equal(code, 0, out + err);
  assert.match(out, /ok: 36 layers to quantize, 0 skipped/);
  const lowrank = check(path.join(root, 'examples/stories260K-lowrank.lowbit.yaml'));
  assert.equal(lowrank.code, 0, lowrank.out + lowrank.err);
  assert.match(lowrank.out, /ok: 35 layers to quantize, 1 skipped/);
});

test('lowbit check without a recipe is a usage error', () => {
  assert.equal(check().code, 2);
});
