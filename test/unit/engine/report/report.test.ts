import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JobPlan } from '../../../../protocol/plan';
import { REPORT_VERSION, type LayerReport } from '../../../../protocol/report';
import { buildReport, modelBitsPerWeight } from '../../../../engine/report/buildReport';
import { HISTORY_DIR, writeReport } from '../../../../engine/report/writeReport';
import { layerTable, summaryTable } from '../../../../engine/report/formatTables';
import { groupsPerRow, storedBitsPerWeight } from '../../../../engine/quantize/storageBits';

function layer(name: string, params: number, bpw: number): LayerReport {
  return {
    name,
    op: 'MatMul',
    shape: [params / 4, 4],
    params,
    method: 'rtn',
    bits: 4,
    group_size: 32,
    symmetric: false,
    rel_error: 0.01,
    bits_per_weight: bpw,
    rules: [0],
  };
}

const plan: JobPlan = {
  recipePath: '/r/recipe.lowbit.yaml',
  modelPath: '/m/model.onnx',
  outputPath: '/o/out.onnx',
  reportPath: '/o/out.onnx.report.json',
  format: 'matmulnbits',
  calibration: { kind: 'random', samples: 4, seed: 0, mode: 'parallel' },
  evaluation: { kind: 'none', metrics: [] },
  layers: [],
  skipped: [],
  threads: 1,
  seed: 0,
};

describe('report', () => {
  test('stored bits per weight count scales, zero points and ragged groups', () => {
    assert.equal(groupsPerRow(172, 32), 6);
    assert.equal(groupsPerRow(64, -1), 1);
    assert.equal(storedBitsPerWeight('matmulnbits', 4, 64, 32, false), 4 + (2 * 36) / 64);
    assert.equal(storedBitsPerWeight('matmulnbits', 4, 64, 32, true), 4 + (2 * 32) / 64);
    assert.equal(storedBitsPerWeight('fake', 4, 64, 32, true), 32);
  });
  test('buildReport weights bits per weight by parameters and copies metrics', () => {
    assert.equal(modelBitsPerWeight([layer('a', 100, 4), layer('b', 300, 8)]), 7);
    const r = buildReport({
      plan,
      layers: [layer('a', 100, 4)],
      totalParams: 1000,
      fpBytes: 4000,
      quantizedBytes: 1000,
      calibrationSamples: 4,
      calibrationTokens: 512,
      fp: { perplexity: 6 },
      quantized: { perplexity: 6.5 },
      klDivergence: { mean: 0.1, p50: 0.05, p99: 0.9, max: 2 },
      top1Agreement: 0.9,
      timings: { load: 1, calibrate: 1, quantize: 1, export: 1, evaluate: 1, total: 5 },
      warnings: ['w'],
    });
    assert.equal(r.version, REPORT_VERSION);
    assert.equal(r.size.quantized_params, 100);
    assert.equal(r.size.bits_per_weight, 4);
    assert.deepEqual(r.calibration, { kind: 'random', samples: 4, mode: 'parallel', tokens: 512 });
    assert.equal(r.metrics.top1_agreement, 0.9);
    assert.match(summaryTable(r), /perplexity\s+6\s+6\.5/);
    assert.match(summaryTable(r), /top-1 agreement\s+100\.00%\s+90\.00%/);
    assert.match(layerTable(r), /^a\s+25x4\s+rtn\s+4\s+32\s+matmulnbits\s+1\.000e-2\s+4$/m);
  });
  test('writeReport writes the report and a history copy; an unwritable folder is a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-report-'));
    const r = buildReport({
      plan,
      layers: [],
      totalParams: 0,
      fpBytes: 1,
      quantizedBytes: 1,
      calibrationSamples: 0,
      fp: {},
      quantized: {},
      timings: { load: 0, calibrate: 0, quantize: 0, export: 0, evaluate: 0, total: 0 },
      warnings: [],
    });
    const path = join(dir, 'out.onnx.report.json');
    const hist = await writeReport(r, path);
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), r);
    assert.deepEqual(readdirSync(join(dir, HISTORY_DIR)), [hist.split('/').pop()]);
    assert.equal(readFileSync(hist, 'utf8'), readFileSync(path, 'utf8'));
    assert.deepEqual(readdirSync(dir).sort(), [HISTORY_DIR, 'out.onnx.report.json'].sort());
    if (process.getuid?.() !== 0) {
      const ro = mkdtempSync(join(tmpdir(), 'lowbit-ro-'));
      chmodSync(ro, 0o500);
      await assert.rejects(writeReport(r, join(ro, 'r.json')), /cannot write report .*r\.json/);
    }
  });
});
