// The README example through runJob (what `npm run example` runs): image calibration → GPTQ 4-bit on
// the PP-OCRv4 rec MatMuls → MatMulNBits → CER + output agreement in the report and the CLI table.
// Then the same data with Conv layers calibrated through im2col (8-bit GPTQ, sequential mode).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadRecipePlan } from '../../../recipe/load';
import { modelHost } from '../../../language-server/src/services/modelSource';
import { runJob } from '../../../engine/job';
import { nativeKernelsAvailable } from '../../../engine/quantize/native';
import { summaryTable } from '../../../engine/report/formatTables';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';

const root = resolve(__dirname, '../../..');
const skip = nativeKernelsAvailable() ? false : 'the native kernels (native/ts/index.ts) do not load in this checkout';

describe('runJob on the OCR example (images calibration and evaluation)', () => {
  test('examples/ocr-rec.lowbit.yaml: report carries CER and output agreement; the table prints them', { skip }, async () => {
    const { plan, diagnostics } = await loadRecipePlan(join(root, 'examples/ocr-rec.lowbit.yaml'), modelHost);
    assert.ok(plan, `recipe errors: ${JSON.stringify(diagnostics)}`);
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-ocr-job-'));
    const outputPath = join(dir, 'rec-w4.onnx');
    const report = await runJob({ ...plan, outputPath, reportPath: join(dir, 'rec-w4.report.json'), threads: 2 });
    assert.ok(existsSync(outputPath));
    assert.equal(report.calibration.kind, 'images');
    assert.equal(report.calibration.samples, 16);
    // Issue 13: the whole recognizer is stored compactly (format auto, at most one rule), ≤ 35% of FP,
    // CER within 1 point of FP, bytes by format in the table.
    assert.ok((readFileSync(join(root, 'examples/ocr-rec.lowbit.yaml'), 'utf8').match(/- match:/g) ?? []).length <= 1);
    assert.equal(report.format, 'auto');
    assert.equal(report.layers.length, 47);
    const by = (op: string) => new Set(report.layers.filter((l) => l.op === op).map((l) => `${l.format}/${l.bits}`));
    assert.deepEqual(by('MatMul'), new Set(['matmulnbits/4']));
    assert.deepEqual(by('Conv'), new Set(['qdq/8']));
    assert.ok(report.size.quantized_bytes <= 0.35 * report.size.fp_bytes, `${report.size.quantized_bytes} of ${report.size.fp_bytes}`);
    assert.deepEqual(
      report.size.by_format!.map((f) => f.format),
      ['matmulnbits', 'qdq', 'float'],
    );
    assert.equal(
      report.size.by_format!.reduce((a, f) => a + f.bytes, 0),
      report.size.quantized_bytes,
    );
    const m = report.metrics;
    assert.ok(m.fp.cer !== undefined && m.fp.cer < 0.05, `FP CER ${m.fp.cer}`);
    assert.ok(m.quantized.cer !== undefined && m.quantized.cer <= m.fp.cer + 0.01, `compressed CER ${m.quantized.cer} vs FP ${m.fp.cer}`);
    assert.ok(m.output_agreement, 'no output_agreement');
    assert.ok(m.output_agreement.cosine > 0.99 && m.output_agreement.cosine < 1, `cosine ${m.output_agreement.cosine}`);
    assert.ok(m.output_agreement.sqnr_db > 15, `SQNR ${m.output_agreement.sqnr_db}`);
    assert.ok(m.output_agreement.argmax_agreement > 0.95, `argmax ${m.output_agreement.argmax_agreement}`);
    assert.ok(m.quantized.latency_ms! > 0 && m.fp.latency_ms! > 0);
    assert.ok(report.size.quantized_bytes < report.size.fp_bytes);
    const table = summaryTable(report);
    assert.match(table, /^CER\s+\d+\.\d\d%\s+\d+\.\d\d%$/m);
    assert.match(table, /^output cosine\s+1\s+0\.9\d{4}$/m);
    assert.match(table, /^output argmax agreement\s+100\.00%\s+\d+\.\d\d%$/m);
    assert.match(table, /^ {2}bytes as matmulnbits \(9 layers\)\s+\d/m);
    assert.match(table, /^ {2}bytes as qdq \(38 layers\)\s+\d/m);
  });

  test(
    'Conv layers get im2col Hessians: GPTQ 8-bit on 4 Convs + 2 4-bit MatMuls, sequential mode (a pass per block)',
    { skip },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lowbit-ocr-conv-'));
      const recipe = join(dir, 'rec-conv.lowbit.yaml');
      const data = join(root, 'examples/ocr');
      writeFileSync(
        recipe,
        [
          'version: 1',
          `model: ${paddleOcrAsset('ch_PP-OCRv4_rec_infer.onnx')}`,
          'output: ./rec-conv.onnx',
          'format: qdq',
          `calibration: { images: ${data}/calib, samples: 4, mode: sequential, image: { height: 48, width: -1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], layout: nchw, channels: bgr } }`,
          'defaults: { method: gptq, bits: 4, group_size: 32, symmetric: false }',
          'layers:',
          '  - match: "re:.*"',
          '    skip: true',
          '  - match: "conv2d_{10,157,158,160}.w_0"',
          '    skip: false',
          '    bits: 8',
          '    group_size: -1',
          '    symmetric: true',
          '  - match: "linear_{77,85}.w_0"',
          '    skip: false',
          `evaluate: { images: ${data}/eval, labels: ${data}/eval/labels.tsv, samples: 6, metrics: [cer, output_agreement], image: { height: 48, width: -1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], layout: nchw, channels: bgr } }`,
          '',
        ].join('\n'),
      );
      const { plan, diagnostics } = await loadRecipePlan(recipe, modelHost);
      assert.ok(plan, `recipe errors: ${JSON.stringify(diagnostics)}`);
      assert.equal(plan.calibration.mode, 'sequential');
      const report = await runJob({ ...plan, threads: 2 });
      assert.ok(!report.warnings.some((w) => /no calibration Hessian/.test(w)), report.warnings.join('\n'));
      const convs = report.layers.filter((l) => l.op === 'Conv');
      assert.equal(convs.length, 4);
      for (const l of convs) assert.ok(l.rel_error > 0 && l.rel_error < 1e-2, `${l.name}: rel_error ${l.rel_error}`);
      const m = report.metrics;
      assert.ok(m.quantized.cer! <= m.fp.cer! + 0.05, `CER ${m.quantized.cer} vs FP ${m.fp.cer}`);
      assert.ok(m.output_agreement!.cosine > 0.99, `cosine ${m.output_agreement!.cosine}`);
    },
  );
});
