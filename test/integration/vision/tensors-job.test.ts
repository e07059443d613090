// `calibration: { tensors }` and `evaluate: { tensors }` end to end through runJob on PP-OCRv4 det
// (all Conv, no MatMul): rendered text pages written here as .npz → Conv Hessians (im2col) → GPTQ 8-bit per-channel on
// the first three Convs → QDQ export → FP vs compressed output agreement on a second .npz.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadRecipePlan } from '../../../recipe/load';
import { modelHost } from '../../../language-server/src/services/modelSource';
import { runJob } from '../../../engine/job';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';
import { nativeKernelsAvailable } from '../../../engine/quantize/native';
import { summaryTable } from '../../../engine/report/formatTables';
import { writePageNpz } from './npzFixture';

const skip = nativeKernelsAvailable() ? false : 'the native kernels (native/ts/index.ts) do not load in this checkout';

describe('tensors (.npz) calibration and evaluation through runJob (PP-OCRv4 det, rendered pages)', () => {
  test('GPTQ 8-bit on Conv layers with .npz data: calibrated rel_error, QDQ output, output agreement', { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-npz-job-'));
    mkdirSync(join(dir, 'calib'));
    mkdirSync(join(dir, 'eval'));
    writePageNpz(join(dir, 'calib'), [
      ['Lowbit compresses', 'ONNX models'],
      ['Invoice 48213', 'Total $129.95'],
      ['Quantization', 'at 4 bits'],
      ['Hello world', 'Thank you'],
    ]);
    writePageNpz(join(dir, 'eval'), [
      ['Receipt 2291', 'Coffee 3.50'],
      ['Meeting at noon', 'Room 4B'],
      ['Low-bit', 'neural nets'],
    ]);
    const recipe = join(dir, 'det.lowbit.yaml');
    writeFileSync(
      recipe,
      [
        'version: 1',
        `model: ${paddleOcrAsset('ch_PP-OCRv4_det_infer.onnx')}`,
        'output: ./out/det-w8.onnx',
        'format: qdq',
        'calibration: { tensors: ./calib/x.npz, samples: 4 }',
        'defaults: { method: gptq, bits: 8, group_size: -1, symmetric: true }',
        'layers:',
        '  - match: "re:.*"',
        '    skip: true',
        // The next layer, depthwise conv2d_396, is very sensitive (8-bit RTN alone drops SQNR to ~11 dB).
        '  - match: "conv2d_{0,394,395}.w_0"',
        '    skip: false',
        'evaluate: { tensors: ./eval/x.npz, samples: 3, metrics: [output_agreement, size, latency] }',
        '',
      ].join('\n'),
    );
    const { plan, diagnostics } = await loadRecipePlan(recipe, modelHost);
    assert.ok(plan, `recipe errors: ${JSON.stringify(diagnostics)}`);
    assert.equal(plan.calibration.kind, 'tensors');
    assert.equal(plan.evaluation.kind, 'tensors');
    assert.deepEqual(
      plan.layers.map((l) => l.name),
      ['conv2d_0.w_0', 'conv2d_394.w_0', 'conv2d_395.w_0'],
    );

    const report = await runJob({ ...plan, threads: 2 });
    assert.ok(existsSync(plan.outputPath) && existsSync(plan.reportPath));
    assert.equal(report.calibration.kind, 'tensors');
    assert.equal(report.calibration.samples, 4);
    assert.equal(report.format, 'qdq');
    assert.ok(!report.warnings.some((w) => /no calibration Hessian/.test(w)), report.warnings.join('\n'));
    for (const l of report.layers) {
      assert.equal(l.op, 'Conv');
      // rel_error = tr(ΔW H ΔWᵀ)/tr(W H Wᵀ) with the im2col Hessian.
      assert.ok(l.rel_error > 0 && l.rel_error < 1e-3, `${l.name}: rel_error ${l.rel_error}`);
    }
    const a = report.metrics.output_agreement;
    assert.ok(a, 'no output_agreement in the report');
    assert.ok(a.cosine > 0.995 && a.cosine < 1, `cosine ${a.cosine}`);
    assert.ok(a.sqnr_db > 20 && Number.isFinite(a.sqnr_db), `SQNR ${a.sqnr_db}`);
    assert.ok(a.argmax_agreement > 0.95, `argmax agreement ${a.argmax_agreement}`);
    assert.ok(report.metrics.quantized.latency_ms! > 0);
    assert.match(summaryTable(report), /output SQNR \(dB\)\s+inf\s+\d+\.\d/);

    // The written model runs in onnxruntime and carries the QDQ Conv weights.
    const s = await ort.InferenceSession.create(plan.outputPath);
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(3 * 32 * 32).fill(0.1), [1, 3, 32, 32]) });
    assert.deepEqual(out[s.outputNames[0]].dims, [1, 1, 32, 32]);
    await s.release();
  });
});
