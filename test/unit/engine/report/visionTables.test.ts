// buildReport carries output agreement; summaryTable prints CER, accuracy and output-agreement rows.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobPlan } from '../../../../protocol/plan';
import { buildReport } from '../../../../engine/report/buildReport';
import { summaryTable } from '../../../../engine/report/formatTables';

const image = { height: 48, width: -1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], layout: 'nchw' as const, channels: 'bgr' as const };
const plan: JobPlan = {
  recipePath: '/r/ocr.lowbit.yaml',
  modelPath: '/m/rec.onnx',
  outputPath: '/o/rec-w4.onnx',
  reportPath: '/o/rec-w4.report.json',
  format: 'matmulnbits',
  calibration: { kind: 'images', path: '/d/calib', samples: 16, mode: 'parallel', image },
  evaluation: { kind: 'images', path: '/d/eval', samples: 20, image, metrics: ['cer', 'accuracy', 'output_agreement'] },
  layers: [],
  skipped: [],
  threads: 1,
  seed: 0,
};
const timings = { load: 0, calibrate: 0, quantize: 0, export: 0, evaluate: 0, total: 0 };

describe('vision metrics in the report and the CLI table', () => {
  test('output agreement, CER and accuracy rows', () => {
    const r = buildReport({
      plan,
      layers: [],
      totalParams: 10,
      fpBytes: 4096,
      quantizedBytes: 2048,
      calibrationSamples: 16,
      fp: { cer: 0.0125, accuracy_top1: 0.9, accuracy_top5: 0.99 },
      quantized: { cer: 0.025, accuracy_top1: 0.85, accuracy_top5: 0.98 },
      outputAgreement: { cosine: 0.999456, sqnr_db: 29.63, argmax_agreement: 0.9949 },
      timings,
      warnings: [],
    });
    assert.deepEqual(r.metrics.output_agreement, { cosine: 0.999456, sqnr_db: 29.63, argmax_agreement: 0.9949 });
    assert.equal(r.calibration.kind, 'images');
    assert.equal(r.calibration.tokens, undefined);
    const t = summaryTable(r);
    assert.match(t, /^CER\s+1\.25%\s+2\.50%$/m);
    assert.match(t, /^accuracy top-1\s+90\.00%\s+85\.00%$/m);
    assert.match(t, /^accuracy top-5\s+99\.00%\s+98\.00%$/m);
    assert.match(t, /^output cosine\s+1\s+0\.99946$/m);
    assert.match(t, /^output SQNR \(dB\)\s+inf\s+29\.6$/m);
    assert.match(t, /^output argmax agreement\s+100\.00%\s+99\.49%$/m);
    assert.doesNotMatch(t, /perplexity|KL/);
  });

  test('no vision rows without vision metrics; identical outputs print SQNR inf', () => {
    const base = { plan, layers: [], totalParams: 10, fpBytes: 1, quantizedBytes: 1, calibrationSamples: 1, timings, warnings: [] };
    const none = summaryTable(buildReport({ ...base, fp: {}, quantized: {} }));
    assert.doesNotMatch(none, /CER|output|accuracy/);
    const same = summaryTable(
      buildReport({ ...base, fp: {}, quantized: {}, outputAgreement: { cosine: 1, sqnr_db: Infinity, argmax_agreement: 1 } }),
    );
    assert.match(same, /^output SQNR \(dB\)\s+inf\s+inf$/m);
  });
});
