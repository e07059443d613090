/**
 * `lowbit run` streaming a random Llama-shaped model with external data (bench/llamaModel.ts), fp32 and
 * fp16, as real CLI processes: the streamed output equals the whole-model output (fp32 byte for byte,
 * fp16 within a tested tolerance), the
 * memory plan and per-block progress are printed, Ctrl-C mid-block and a bad cache folder leave
 * nothing behind, and a budget nothing fits is refused up front.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeLlama, type LlamaShape } from '../../../bench/llamaModel';
import { runCli } from './cliHarness';

const SHAPE: LlamaShape = { layers: 2, hidden: 64, ffn: 128, heads: 4, kvHeads: 2, vocab: 96, seq: 16, dtype: 'float32' };

function recipe(dir: string, name: string, model: string, memory: string, method = 'gptq', mode = 'parallel'): string {
  const path = join(dir, `${name}.lowbit.yaml`);
  writeFileSync(
    path,
    [
      'version: 1',
      `model: ./${model}`,
      `output: ./out/${name}/model.onnx`,
      'format: matmulnbits',
      'threads: 1',
      'calibration:',
      '  samples: 16',
      `  mode: ${mode}`,
      'defaults:',
      `  method: ${method}`,
      '  bits: 4',
      '  group_size: 32',
      memory,
      '',
    ].join('\n'),
  );
  return path;
}

describe('lowbit run, streamed', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-cli-stream-'));
    mkdirSync(join(dir, 'cache'));
    writeLlama(join(dir, 'llama.onnx'), SHAPE, 3);
    writeLlama(join(dir, 'llama16.onnx'), { ...SHAPE, dtype: 'float16' }, 3);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [label, model] of [
    ['fp32', 'llama.onnx'],
    ['fp16', 'llama16.onnx'],
  ] as const) {
    test(`${label}: the streamed output equals the whole-model output`, async () => {
      const s = await runCli(['run', recipe(dir, `${label}-stream`, model, 'memory:\n  streaming: always\n  cache: ./cache')]);
      assert.equal(s.code, 0, s.stderr);
      assert.deepEqual(readdirSync(join(dir, 'cache')), [], 'the activation cache and the spilled codes are removed');
      const w = await runCli(['run', recipe(dir, `${label}-whole`, model, 'memory:\n  streaming: never')]);
      assert.equal(w.code, 0, w.stderr);
      assert.match(
        s.stderr,
        /calibrate: memory: budget .* \(free now\); whole model ~.*: streaming 5 blocks, ~.* at most \(largest block \d: .*\), activation cache .* in RAM, the rest on disk/,
      );
      assert.match(s.stderr, /\[1\/15\] block 1 of 5: layers\.0\.wq … layers\.0\.wo \(4 layers\)\n/);
      assert.match(s.stderr, /\[15\/15\] block 5 of 5 · output \(gptq 4-bit\) · ETA \d+ s\n/);
      assert.match(w.stderr, /calibrate: memory: .*one whole-model pass \(streaming is off\)/);
      const out = (n: string, f: string) => readFileSync(join(dir, 'out', n, f));
      if (label === 'fp32') {
        assert.ok(out(`${label}-stream`, 'model.onnx').equals(out(`${label}-whole`, 'model.onnx')), 'the model files differ');
        assert.ok(out(`${label}-stream`, 'model.onnx.data').equals(out(`${label}-whole`, 'model.onnx.data')), 'the external data differs');
      } else {
        // fp16: onnxruntime's CPU kernels compute most fp16 ops in fp32 and drop the Cast pairs between
        // them, so inside the whole model some intermediates are never rounded to fp16; a block boundary
        // always carries the model's fp16. Tolerance: < 0.5% of the packed code bytes and < 0.5%
        // relative rel_error per layer (measured: 32 of 52224 bytes, ≤ 0.1%).
        const a = out(`${label}-stream`, 'model.onnx.data'),
          b = out(`${label}-whole`, 'model.onnx.data');
        assert.equal(a.length, b.length);
        let diff = 0;
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
        assert.ok(diff < 0.005 * a.length, `${diff} of ${a.length} bytes differ`);
        const rep = (n: string) => JSON.parse(out(n, 'model.report.json').toString()).layers as { name: string; rel_error: number }[];
        const rs = rep(`${label}-stream`),
          rw = rep(`${label}-whole`);
        rs.forEach((l, i) =>
          assert.ok(Math.abs(l.rel_error - rw[i].rel_error) < 5e-3 * rw[i].rel_error, `${l.name}: ${l.rel_error} vs ${rw[i].rel_error}`),
        );
      }
      assert.deepEqual(readdirSync(join(dir, 'cache')), [], 'the activation cache is removed');
    });
  }

  test('fp16 streams with half the bytes of fp32', () => {
    const f32 = statSync(join(dir, 'llama.onnx.data')).size,
      f16 = statSync(join(dir, 'llama16.onnx.data')).size;
    assert.ok(Math.abs(f16 / f32 - 0.5) < 0.05, `${f16} vs ${f32}`);
  });

  test('AWQ, sequential: the plan streams it (linear) and the output equals the whole-model one byte for byte', async () => {
    const s = await runCli(['run', recipe(dir, 'awq-stream', 'llama.onnx', 'memory:\n  cache: ./cache', 'awq', 'sequential')]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stderr, /calibrate: memory: .*: streaming 5 blocks \(sequential calibration: one pass per block\)/);
    assert.match(s.stderr, /\[15\/15\] block 5 of 5 · output \(awq 4-bit\) · ETA \d+ s\n/);
    const w = await runCli(['run', recipe(dir, 'awq-whole', 'llama.onnx', 'memory:\n  streaming: never', 'awq', 'sequential')]);
    assert.equal(w.code, 0, w.stderr);
    const out = (n: string, f: string) => readFileSync(join(dir, 'out', n, f));
    assert.ok(out('awq-stream', 'model.onnx').equals(out('awq-whole', 'model.onnx')), 'the model files differ');
    assert.ok(out('awq-stream', 'model.onnx.data').equals(out('awq-whole', 'model.onnx.data')), 'the external data differs');
    // Not vacuous: the folds are in the output (the norms were rescaled), as in the whole-model one.
    const report = JSON.parse(out('awq-stream', 'model.report.json').toString()) as { layers: { name: string; awq?: { alpha: number } }[] };
    assert.ok(
      report.layers.some((l) => (l.awq?.alpha ?? 0) > 0),
      'some group chose a scale',
    );
    assert.deepEqual(readdirSync(join(dir, 'cache')), []);
  });

  for (const method of ['gptq', 'awq'])
    test(`Ctrl-C mid-block (${method}): exit 1, no output, no cached activations or spilled codes`, async () => {
      const r = await runCli(
        [
          'run',
          recipe(
            dir,
            `cancel-${method}`,
            'llama.onnx',
            'memory:\n  streaming: always\n  cache: ./cache',
            method,
            method === 'awq' ? 'sequential' : 'parallel',
          ),
        ],
        (chunk, child) => {
          if (/block 3 of 5:/.test(chunk)) child.kill('SIGINT');
        },
      );
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /cancelled; the output and its report are as they were before/);
      assert.ok(
        !existsSync(join(dir, 'out', `cancel-${method}`, 'model.onnx')) &&
          !existsSync(join(dir, 'out', `cancel-${method}`, 'model.onnx.data')),
      );
      assert.deepEqual(readdirSync(join(dir, 'cache')), []);
    });

  test('a cache folder that cannot be written is a clear error; a budget nothing fits is refused up front', async () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    const r = await runCli(['run', recipe(dir, 'badcache', 'llama.onnx', 'memory:\n  streaming: always\n  cache: ./a-file')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`lowbit run: activation cache: cannot create a folder in ${join(dir, 'a-file')}: ENOTDIR`));
    const tiny = await runCli(['run', recipe(dir, 'tiny', 'llama.onnx', ''), '--memory', '1MB']);
    assert.equal(tiny.code, 1);
    assert.match(
      tiny.stderr,
      /llama\.onnx: does not fit the memory budget of 1\.0 MB: the whole model needs ~.* and streaming ~.* \(largest block \d+: .*\); raise memory\.budget_mb or --memory/,
    );
    const bad = await runCli(['run', recipe(dir, 'tiny', 'llama.onnx', ''), '--memory', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--memory takes a size such as 4GB/);
    assert.ok(!existsSync(join(dir, 'out', 'badcache', 'model.onnx')) && !existsSync(join(dir, 'out', 'tiny', 'model.onnx')));
  });
});
