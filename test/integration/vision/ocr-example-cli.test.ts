// `lowbit run` on the README example as a real process (a copy of examples/ocr-rec.lowbit.yaml whose
// paths point at the repo, writing into a temp folder): stdout holds the FP vs compressed table with
// CER and the output-agreement rows, then the 9 MatMul layers.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../cli/cliHarness';
import { nativeKernelsAvailable } from '../../../engine/quantize/native';

const root = resolve(__dirname, '../../..');
const skip = nativeKernelsAvailable() ? false : 'the native kernels (native/ts/index.ts) do not load in this checkout';

describe('lowbit run examples/ocr-rec.lowbit.yaml (CLI process)', () => {
  test('prints CER, output cosine/SQNR/argmax and the layer table; writes model and report', { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-ocr-cli-'));
    const examples = join(root, 'examples');
    const text = readFileSync(join(examples, 'ocr-rec.lowbit.yaml'), 'utf8')
      .replace('model: ../node_modules', `model: ${join(root, 'node_modules')}`)
      .replace('output: ./out/', `output: ${dir}/`)
      .replaceAll('./ocr/', `${join(examples, 'ocr')}/`);
    const recipe = join(dir, 'ocr-rec.lowbit.yaml');
    writeFileSync(recipe, text);
    const r = await runCli(['run', recipe]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^CER\s+\d+\.\d\d%\s+\d+\.\d\d%$/m);
    assert.match(r.stdout, /^output cosine\s+1\s+0\.99\d{3}$/m);
    assert.match(r.stdout, /^output SQNR \(dB\)\s+inf\s+\d+\.\d$/m);
    assert.match(r.stdout, /^output argmax agreement\s+100\.00%\s+\d+\.\d\d%$/m);
    assert.equal((r.stdout.match(/^linear_\d+\.w_0\s/gm) ?? []).length, 9);
    assert.ok(existsSync(join(dir, 'ocr-rec-w4.onnx')) && existsSync(join(dir, 'ocr-rec-w4.report.json')));
    const report = JSON.parse(readFileSync(join(dir, 'ocr-rec-w4.report.json'), 'utf8'));
    assert.equal(typeof report.metrics.quantized.cer, 'number');
    assert.equal(typeof report.metrics.output_agreement.cosine, 'number');
    assert.equal(report.calibration.kind, 'images');
  });
});
