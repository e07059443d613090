/**
 * HQQ and AdaRound through the whole job on the Llama-like test model: each is written in every format
 * that can hold it (MatMulNBits, QDQ, packed, fake), the written model's logits equal the fake-quant
 * model's (the codes/scales/zeros the writers store are the kernel's), and the report carries each
 * method's internals (HQQ's objective per iteration, AdaRound's flips).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runJob, calibrateForPlan, planLayers } from '../../../engine/job';
import { fakeQuantBytes } from '../../../engine/exportStep';
import { loadModel } from '../../../engine/onnx/model';
import { quantizeLayers } from '../../../engine/quantize/quantizeLayers';
import { openSession, runTokens } from '../../../engine/evaluate/ortSession';
import { textWindows } from '../../../engine/data/text';
import type { Report } from '../../../protocol/report';
import type { Method } from '../../../protocol/plan';
import type { QuantizedWeightLike } from '../../../engine/export/types';
import { layerPlans, storiesPlan } from './planFixture';
import { llama } from './sharedFixtures';

const CASES: { method: Method; settings: Record<string, unknown> }[] = [
  { method: 'hqq', settings: { zero_point: 'integer' } },
  { method: 'adaround', settings: { iterations: 150, base: 'gptq' } },
];

async function logits(bytes: Uint8Array, what: string): Promise<Float32Array> {
  const s = await openSession(bytes, 1, what);
  const w = await textWindows({ textPath: llama.text, tokenizerPath: llama.tokenizer, samples: 2, sequenceLength: 64 });
  const r = await runTokens(s, w.ids, 2, 64);
  await s.release();
  return Float32Array.from(r.data);
}

describe('hqq and adaround: every format, logits = fake-quant, internals in the report', () => {
  for (const { method, settings } of CASES) {
    test(`${method} ${JSON.stringify(settings)}`, async () => {
      const layers = layerPlans(method, 4, 32, llama.layers, settings);
      const base = storiesPlan({ layers, evaluation: { kind: 'none', metrics: [] }, accuracyLevel: 0 });
      const model = await loadModel(llama.model);
      const ops = new Map(planLayers(base, model).map((l) => [l.name, l.op]));
      const cal = await calibrateForPlan(base, model, {});
      const q = await quantizeLayers({ plan: base, model, ops, stats: cal.stats });
      const fake = await logits(fakeQuantBytes(model, q), 'fake');
      let maxAbs = 0;
      for (const v of fake) maxAbs = Math.max(maxAbs, Math.abs(v));
      for (const format of ['matmulnbits', 'qdq', 'packed', 'fake'] as const) {
        const plan = storiesPlan({ layers, format, evaluation: { kind: 'none', metrics: [] }, accuracyLevel: 0 });
        await runJob(plan);
        const report = JSON.parse(readFileSync(plan.reportPath, 'utf8')) as Report;
        assert.ok(
          report.layers.every((l) => l.method === method && l.format === format),
          `${format}: ${report.layers.map((l) => `${l.name}:${l.format}`).join(' ')}`,
        );
        const real = await logits(new Uint8Array(readFileSync(plan.outputPath)), plan.outputPath);
        let maxDiff = 0;
        for (let i = 0; i < real.length; i++) maxDiff = Math.max(maxDiff, Math.abs(real[i]! - fake[i]!));
        assert.ok(maxDiff <= 1e-3 * maxAbs, `${format}: max |Δlogit| ${maxDiff} (max |logit| ${maxAbs})`);
        for (const l of report.layers) {
          if (method === 'hqq') {
            const h = l.hqq!;
            assert.equal(h.zero_point, 'integer');
            assert.equal(h.objective.length, h.iterations + 1);
            for (let i = 1; i < h.objective.length; i++) assert.ok(h.objective[i]! < h.objective[i - 1]!, `${l.name}: objective rose`);
            assert.ok(h.final <= h.objective[0]! * (1 + 1e-6));
          } else {
            const a = l.adaround!;
            assert.equal(a.base, settings.base ?? 'rtn');
            assert.equal(a.iterations, 150);
            assert.ok(a.flips >= 0 && a.flip_fraction === a.flips / l.params);
            assert.ok(a.loss <= a.loss_nearest, `${l.name}: learned ${a.loss} vs nearest ${a.loss_nearest}`);
          }
        }
      }
    });
  }

  for (const bits of [2, 4, 8])
    test(`hqq ${bits}-bit with real-valued zero points: matmulnbits stores them as float zero points at 2/4 bits (logits = fake-quant); 8 bits, qdq and packed write fake-quant with a note`, async () => {
      // onnxruntime's MatMulNBits dequantizes float zero points at 2 and 4 bits only.
      const stored = bits === 8 ? 'fake' : 'matmulnbits';
      const layers = layerPlans('hqq', bits, 32, llama.layers.slice(0, 3)); // default: real-valued zero points
      const base = storiesPlan({ layers, evaluation: { kind: 'none', metrics: [] }, accuracyLevel: 0 });
      const model = await loadModel(llama.model);
      const ops = new Map(planLayers(base, model).map((l) => [l.name, l.op]));
      const cal = await calibrateForPlan(base, model, {});
      const q = await quantizeLayers({ plan: base, model, ops, stats: cal.stats });
      assert.ok(
        q.some((r) => {
          const z = (r.q as QuantizedWeightLike | undefined)?.zeros;
          return z && Array.from(z as ArrayLike<number>).some((v) => !Number.isInteger(v));
        }),
        'the kernel returned real-valued zero points',
      );
      const fake = await logits(fakeQuantBytes(model, q), 'fake');
      let maxAbs = 0;
      for (const v of fake) maxAbs = Math.max(maxAbs, Math.abs(v));
      const plan = storiesPlan({ layers, format: 'matmulnbits', evaluation: { kind: 'none', metrics: [] }, accuracyLevel: 0 });
      await runJob(plan);
      const report = JSON.parse(readFileSync(plan.reportPath, 'utf8')) as Report;
      assert.ok(
        report.layers.every((l) => l.format === stored && l.hqq?.zero_point === 'float'),
        report.layers.map((l) => `${l.name}:${l.format}`).join(' '),
      );
      assert.equal(
        report.warnings.some((w) => /real-valued zero points at 2 and 4 bits only/.test(w)),
        bits === 8,
        report.warnings.join('\n'),
      );
      assert.ok(!report.warnings.some((w) => /is not an integer/.test(w)), report.warnings.join('\n'));
      // Float zero points cost 32 bits a group (not `bits`): the report's bits per weight says so.
      for (const l of report.layers) {
        const groups = Math.ceil(l.shape[1] / 32);
        const want = stored === 'matmulnbits' ? bits + (groups * 64) / l.shape[1] : 32;
        assert.ok(Math.abs(l.bits_per_weight - want) < 1e-9, `${l.name}: ${l.bits_per_weight} bits/weight, want ${want}`);
      }
      const written = await loadModel(plan.outputPath);
      const mm = written.graph.node.filter((n) => n.opType === 'MatMulNBits');
      assert.equal(mm.length, stored === 'matmulnbits' ? 3 : 0);
      for (const n of mm) {
        const zp = written.graph.initializer.find((t) => t.name === n.input[3]);
        assert.ok(zp, `${n.name} has zero points`);
        assert.equal(zp.dataType, 1, `${n.name}: zero points stored as float32`);
      }
      const real = await logits(new Uint8Array(readFileSync(plan.outputPath)), plan.outputPath);
      let maxDiff = 0;
      for (let i = 0; i < real.length; i++) maxDiff = Math.max(maxDiff, Math.abs(real[i]! - fake[i]!));
      assert.ok(maxDiff <= 1e-3 * maxAbs, `max |Δlogit| ${maxDiff} (max |logit| ${maxAbs})`);
      for (const format of ['qdq', 'packed'] as const) {
        const p = storiesPlan({ layers, format, evaluation: { kind: 'none', metrics: [] }, accuracyLevel: 0 });
        await runJob(p);
        const r = JSON.parse(readFileSync(p.reportPath, 'utf8')) as Report;
        assert.ok(
          r.layers.every((l) => l.format === 'fake'),
          `${format}: ${r.layers.map((l) => l.format).join()}`,
        );
        assert.ok(
          r.warnings.some((w) => /zero point .* is not an integer/.test(w)),
          r.warnings.join('\n'),
        );
      }
    });
});
