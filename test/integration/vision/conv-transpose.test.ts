// ConvTranspose end to end on a synthetic model (test/unit/engine/onnx/convTransposeModel.ts: group 1
// with stride 2, asymmetric pads, output_padding, dilation, bias; group 2 with its own geometry):
// onnxruntime agrees with a float64 ConvTranspose written from the spec; calibrate() collects
// H = 2/N·Σ x xᵀ over input pixels (pooled over groups), equal to a float64 reference; the fake-quant
// export equals the float64 reference with the dequantized weights; blocked QDQ equals fake-quant;
// and runJob with .npy data gives GPTQ a lower output error than RTN.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { JobPlan, LayerPlan } from '../../../protocol/plan';
import { loadModel, parseModel, type OnnxModel } from '../../../engine/onnx/model';
import { paddleOcrAsset } from '../../../engine/tasks/ctc';
import { decodeModel } from '../../../engine/onnx/onnxProto';
import { calibrate, statisticsKey } from '../../../engine/calibrate/calibrate';
import { planLayers, runJob } from '../../../engine/job';
import { loadRecipePlan } from '../../../recipe/load';
import { modelHost } from '../../../language-server/src/services/modelSource';
import { exportModel } from '../../../engine/export/exportModel';
import { encodeNpy } from '../../../engine/data/npy';
import { nativeKernelsAvailable } from '../../../engine/quantize/native';
import { rtn } from '../engine/exportFixtures';
import { encode, randn } from '../../unit/engine/onnx/tinyModels';
import {
  CIN,
  convTransposeModel,
  correlatedInput,
  matrixToStored,
  referenceConvTranspose,
  SPECS,
  weights,
} from '../../unit/engine/onnx/convTransposeModel';

const skip = nativeKernelsAvailable() ? false : 'the native kernels (native/ts/index.ts) do not load in this checkout';
const DIMS = [3, CIN, 5, 6];

async function runAll(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
  try {
    const out = await s.run({ x: new ort.Tensor('float32', x, dims) });
    return Object.fromEntries(SPECS.map((sp) => [sp.output, out[sp.output].data as Float32Array]));
  } finally {
    await s.release();
  }
}

/** max |a − b| / max |b|. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0,
    den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

/** float64 H = 2/N·Σ rows over (batch, pixel, group) of x[b, G·cg : (G+1)·cg, pixel]. */
function referenceHessian(x: Float32Array, [n, c, h, w]: number[], group: number): { H: Float64Array; N: number } {
  const cg = c / group;
  const H = new Float64Array(cg * cg);
  let N = 0;
  for (let b = 0; b < n; b++)
    for (let g = 0; g < group; g++)
      for (let p = 0; p < h * w; p++) {
        for (let i = 0; i < cg; i++)
          for (let j = 0; j < cg; j++) H[i * cg + j] += x[(b * c + g * cg + i) * h * w + p] * x[(b * c + g * cg + j) * h * w + p];
        N++;
      }
  for (let i = 0; i < H.length; i++) H[i] *= 2 / N;
  return { H, N };
}

function sqErr(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

describe('ConvTranspose layers end to end (synthetic model)', () => {
  const w = weights();
  const model: OnnxModel = parseModel(encode(convTransposeModel(w)), 'convtranspose.onnx', tmpdir());
  const x = correlatedInput(DIMS[0], DIMS[2], DIMS[3], 5);

  test('onnxruntime agrees with the float64 ConvTranspose written from the spec', async () => {
    const out = await runAll(model.serialize(), x, DIMS);
    for (const s of SPECS) {
      const ref = referenceConvTranspose(s, x, DIMS, w.get(s.weight)!, w.get(s.bias)!);
      assert.equal(out[s.output].length, ref.y.length, `${s.output}: output size`);
      const d = maxRel(out[s.output], ref.y);
      assert.ok(d < 1e-5, `${s.output}: max rel diff ${d}`);
    }
  });

  test('calibration: per-pixel channel Hessians (pooled over groups) match float64 X·Xᵀ; one key per group count', { skip }, async () => {
    const plan = {
      recipePath: 'ct.lowbit.yaml',
      modelPath: 'convtranspose.onnx',
      layers: SPECS.map((s) => ({ name: s.weight })),
    } as unknown as JobPlan;
    const layers = planLayers(plan, model);
    assert.deepEqual(
      layers.map((l) => [l.op, l.cols, l.convTranspose?.group]),
      [
        ['ConvTranspose', 16, 1],
        ['ConvTranspose', 8, 2],
      ],
    );
    assert.notEqual(statisticsKey(layers[0]), statisticsKey(layers[1]));
    // Two batches (1 and 2 items): the Hessian accumulates across batches.
    const px = DIMS[1] * DIMS[2] * DIMS[3];
    const batches = [
      { x: new ort.Tensor('float32', x.slice(0, px), [1, ...DIMS.slice(1)]) },
      { x: new ort.Tensor('float32', x.slice(px), [DIMS[0] - 1, ...DIMS.slice(1)]) },
    ];
    const stats = await calibrate({ model, layers, batches, threads: 2 });
    for (const [l, s] of layers.map((l, k) => [l, SPECS[k]] as const)) {
      const st = stats.get(statisticsKey(l))!;
      assert.ok(st, `no statistics for ${l.name}`);
      const ref = referenceHessian(x, DIMS, s.group);
      assert.equal(st.n, l.cols);
      assert.equal(st.hessian.samples, ref.N);
      const d = maxRel(st.hessian.matrix(), ref.H);
      assert.ok(d < 1e-5, `${l.name}: Hessian differs from the reference by ${d}`);
      assert.deepEqual(st.layers, [l.name]);
    }
  });

  test('fake-quant export equals the float64 reference with the dequantized weights; blocked QDQ equals fake-quant', async () => {
    const cases = [
      { bits: 4, groupSize: 4 },
      { bits: 8, groupSize: -1 },
      { bits: 3, groupSize: -1 },
    ];
    for (const { bits, groupSize } of cases) {
      const results = SPECS.map((s) => {
        const m = model.getWeight(s.weight);
        return { layer: s.weight, ...rtn(m.data, m.rows, m.cols, bits, groupSize) };
      });
      const fake = exportModel(model, results, { format: 'fake' });
      const fakeOut = await runAll(fake.bytes, x, DIMS);
      for (const [s, r] of SPECS.map((s, k) => [s, results[k]] as const)) {
        const ref = referenceConvTranspose(s, x, DIMS, matrixToStored(s, r.dequant), w.get(s.bias)!);
        const d = maxRel(fakeOut[s.output], ref.y);
        assert.ok(d < 1e-5, `${s.output} ${bits}-bit g${groupSize}: fake-quant vs float64 reference ${d}`);
        // The quantization really changed the output.
        assert.ok(maxRel(fakeOut[s.output], referenceConvTranspose(s, x, DIMS, w.get(s.weight)!, w.get(s.bias)!).y) > 1e-4);
      }
      const qdq = exportModel(model, results, { format: 'qdq' });
      assert.deepEqual(
        qdq.layers.map((l) => l.written),
        ['qdq', 'qdq'],
        JSON.stringify(qdq.layers),
      );
      assert.equal(qdq.opset, 21);
      const g = decodeModel(qdq.bytes, 'qdq.onnx').graph!;
      const dq = g.node.filter((n) => n.opType === 'DequantizeLinear');
      assert.equal(dq.length, 2);
      for (const n of g.node.filter((n) => n.opType === 'ConvTranspose'))
        assert.ok(
          dq.some((d) => d.output[0] === n.input[1]),
          `${n.name} does not read a DequantizeLinear`,
        );
      const scale = g.initializer.find((t) => t.name === dq[0].input[1])!;
      assert.deepEqual(scale.dims.map(Number), [groupSize > 0 ? CIN / groupSize : 1, 8, 3, 3]);
      const qdqOut = await runAll(qdq.bytes, x, DIMS);
      for (const s of SPECS) {
        const d = maxRel(qdqOut[s.output], fakeOut[s.output]);
        assert.ok(d < 1e-5, `${s.output} ${bits}-bit g${groupSize}: QDQ vs fake-quant ${d}`);
      }
    }
  });

  test('QDQ falls back to fake-quant (with a note) when a block would straddle two groups', async () => {
    const s = SPECS[1];
    const m = model.getWeight(s.weight);
    const r = rtn(m.data, m.rows, m.cols, 4, 3);
    const out = exportModel(model, [{ layer: s.weight, ...r }], { format: 'qdq' });
    assert.equal(out.layers[0].written, 'fake');
    assert.match(out.layers[0].note ?? '', /group=2 needs a group size dividing 8/);
    const y = (await runAll(out.bytes, x, DIMS))[s.output];
    const ref = referenceConvTranspose(s, x, DIMS, matrixToStored(s, r.dequant), w.get(s.bias)!);
    assert.ok(maxRel(y, ref.y) < 1e-5);
  });

  test('a low-rank correction (no branch on ConvTranspose) is folded into the weight in every format', async () => {
    const s = SPECS[0];
    const m = model.getWeight(s.weight);
    const rank = 2;
    const L = randn(m.rows * rank, 51).map((v) => 0.1 * v),
      R = randn(rank * m.cols, 52).map((v) => 0.1 * v);
    const r = rtn(m.data, m.rows, m.cols, 4, -1);
    const folded = Float64Array.from(r.dequant, (v, i) => {
      const o = Math.floor(i / m.cols),
        c = i % m.cols;
      let lr = 0;
      for (let k = 0; k < rank; k++) lr += L[o * rank + k] * R[k * m.cols + c];
      return v + lr;
    });
    const ref = referenceConvTranspose(s, x, DIMS, matrixToStored(s, folded), w.get(s.bias)!);
    for (const format of ['fake', 'qdq', 'matmulnbits'] as const) {
      const out = exportModel(model, [{ layer: s.weight, ...r, lowRank: { L, R, rank } }], { format });
      assert.equal(out.layers[0].written, 'fake', format);
      assert.match(out.layers[0].note ?? '', /L·R folded into the weight/);
      const d = maxRel((await runAll(out.bytes, x, DIMS))[s.output], ref.y);
      assert.ok(d < 1e-5, `${format}: output differs from W + L·R by ${d}`);
    }
  });

  test(
    'runJob with .npy data: GPTQ (QDQ; and sequential) has a lower output error than RTN on the calibration data',
    { skip },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lowbit-convt-'));
      const modelPath = join(dir, 'convtranspose.onnx');
      writeFileSync(modelPath, model.serialize());
      const calDims = [8, CIN, 6, 7];
      const cal = correlatedInput(calDims[0], calDims[2], calDims[3], 21);
      const evalDims = [2, CIN, 6, 7];
      const ev = correlatedInput(evalDims[0], evalDims[2], evalDims[3], 31);
      mkdirSync(join(dir, 'calib'));
      mkdirSync(join(dir, 'eval'));
      writeFileSync(join(dir, 'calib', 'x.npy'), encodeNpy({ dtype: 'f4', shape: calDims, data: cal }));
      writeFileSync(join(dir, 'eval', 'x.npy'), encodeNpy({ dtype: 'f4', shape: evalDims, data: ev }));
      const job = async (method: 'rtn' | 'gptq', format: 'fake' | 'qdq', mode: 'parallel' | 'sequential' = 'parallel') => {
        const layers: LayerPlan[] = SPECS.map((s) => ({
          name: s.weight,
          method,
          bits: 3,
          groupSize: -1,
          symmetric: false,
          settings: {},
          rules: [0],
        }));
        const outputPath = join(dir, `${method}-${mode}.onnx`);
        const plan: JobPlan = {
          recipePath: join(dir, 'ct.lowbit.yaml'),
          modelPath,
          outputPath,
          reportPath: `${outputPath}.report.json`,
          format,
          layers,
          skipped: [],
          threads: 2,
          seed: 0,
          calibration: { kind: 'tensors', path: join(dir, 'calib'), samples: 8, mode },
          evaluation: { kind: 'tensors', path: join(dir, 'eval'), samples: 2, metrics: ['output_agreement', 'size'] },
        };
        const report = await runJob(plan);
        assert.ok(!report.warnings.some((m) => /no calibration Hessian|fake-quant/.test(m)), report.warnings.join('\n'));
        assert.deepEqual(
          report.layers.map((l) => [l.name, l.op, l.shape]),
          SPECS.map((s) => [s.weight, 'ConvTranspose', model.layer(s.weight).shape]),
        );
        assert.ok(
          report.metrics.output_agreement && report.metrics.output_agreement.cosine > 0.9,
          JSON.stringify(report.metrics.output_agreement),
        );
        return { report, out: await runAll(readFileSync(outputPath), cal, calDims) };
      };
      const fp = await runAll(model.serialize(), cal, calDims);
      const r = await job('rtn', 'fake');
      const g = await job('gptq', 'qdq');
      assert.equal(
        decodeModel(readFileSync(join(dir, 'gptq-parallel.onnx')), 'gptq-parallel.onnx').graph!.node.filter(
          (n) => n.opType === 'DequantizeLinear',
        ).length,
        2,
      );
      // Sequential calibration goes through the fake-quant export of the earlier block.
      const gs = await job('gptq', 'fake', 'sequential');
      for (const [k, s] of SPECS.entries()) {
        const er = sqErr(r.out[s.output], fp[s.output]);
        for (const [what, q] of [
          ['GPTQ', g],
          ['sequential GPTQ', gs],
        ] as const) {
          const eq = sqErr(q.out[s.output], fp[s.output]);
          assert.ok(er > 0 && eq < er, `${s.weight}: ${what} output error ${eq} is not below RTN's ${er}`);
          assert.ok(
            q.report.layers[k].rel_error < r.report.layers[k].rel_error,
            `${s.weight}: rel_error ${what} ${q.report.layers[k].rel_error} vs RTN ${r.report.layers[k].rel_error}`,
          );
        }
      }
    },
  );

  test('a recipe with the binarization / low-rank kernels (BiLLM, FLRQ) on ConvTranspose runs through runJob', { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-convt-recipe-'));
    writeFileSync(join(dir, 'convtranspose.onnx'), model.serialize());
    mkdirSync(join(dir, 'calib'));
    const calDims = [6, CIN, 6, 7];
    const cal = correlatedInput(calDims[0], calDims[2], calDims[3], 41);
    writeFileSync(join(dir, 'calib', 'x.npy'), encodeNpy({ dtype: 'f4', shape: calDims, data: cal }));
    const recipe = join(dir, 'ct.lowbit.yaml');
    writeFileSync(
      recipe,
      [
        'version: 1',
        'model: ./convtranspose.onnx',
        'output: ./out/ct.onnx',
        'format: qdq',
        'calibration: { tensors: ./calib, samples: 6 }',
        'defaults: { method: gptq, bits: 4, group_size: -1 }',
        'layers:',
        '  - match: up.weight',
        '    method: billm',
        '  - match: up2.weight',
        '    method: flrq',
        'evaluate: { tensors: ./calib, samples: 2, metrics: [output_agreement, size] }',
        '',
      ].join('\n'),
    );
    const { plan, diagnostics } = await loadRecipePlan(recipe, modelHost);
    assert.ok(plan, `recipe errors: ${JSON.stringify(diagnostics)}`);
    const report = await runJob({ ...plan, threads: 2 });
    assert.deepEqual(
      report.layers.map((l) => [l.name, l.op, l.method]),
      [
        ['up.weight', 'ConvTranspose', 'billm'],
        ['up2.weight', 'ConvTranspose', 'flrq'],
      ],
    );
    for (const l of report.layers) assert.ok(l.rel_error > 0 && l.rel_error < 0.5, `${l.name}: rel_error ${l.rel_error}`);
    // Neither has integer codes for QDQ (BiLLM) / a branch (FLRQ's L·R is folded): both say why.
    assert.ok(
      report.warnings.some((m) => /up\.weight.*fake-quant|fake-quant.*up\.weight/.test(m)),
      report.warnings.join('\n'),
    );
    const fp = await runAll(model.serialize(), cal, calDims);
    const q = await runAll(readFileSync(plan.outputPath), cal, calDims);
    for (const s of SPECS) {
      const e = Math.sqrt(sqErr(q[s.output], fp[s.output]) / sqErr(fp[s.output], new Float32Array(fp[s.output].length)));
      assert.ok(e > 0 && e < 0.8, `${s.output}: relative output error ${e}`);
    }
  });

  test('PP-OCRv4 det: its two ConvTranspose layers are quantizable; identity export is exact and QDQ equals fake-quant', async () => {
    const det = await loadModel(paddleOcrAsset('ch_PP-OCRv4_det_infer.onnx'));
    const ct = det.layers.filter((l) => l.op === 'ConvTranspose');
    assert.deepEqual(
      ct.map((l) => [l.name, l.dims, l.shape, l.quantizable]),
      [
        ['conv2d_transpose_0.w_0', [24, 24, 2, 2], [96, 24], true],
        ['conv2d_transpose_1.w_0', [24, 1, 2, 2], [4, 24], true],
      ],
    );
    const feeds = { x: new ort.Tensor('float32', correlatedInput(1, 32, 64, 3).subarray(0, 3 * 32 * 64), [1, 3, 32, 64]) };
    const run = async (bytes: Uint8Array) => {
      const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2 });
      try {
        return (await s.run(feeds))[s.outputNames[0]].data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const fp = await run(det.serialize());
    const identity = exportModel(
      det,
      ct.map((l) => ({ layer: l.name, dequant: det.getWeight(l.name).data })),
      { format: 'fake' },
    );
    assert.deepEqual(await run(identity.bytes), fp);
    const results = ct.map((l) => {
      const m = det.getWeight(l.name);
      return { layer: l.name, ...rtn(m.data, m.rows, m.cols, 8, -1) };
    });
    const fake = await run(exportModel(det, results, { format: 'fake' }).bytes);
    const qdq = exportModel(det, results, { format: 'qdq' });
    assert.deepEqual(
      qdq.layers.map((l) => l.written),
      ['qdq', 'qdq'],
    );
    assert.ok(maxRel(await run(qdq.bytes), fake) < 1e-5);
    assert.ok(maxRel(fake, fp) > 0, '8-bit RTN changed nothing');
  });
});
