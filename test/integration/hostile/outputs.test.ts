/**
 * Hostile outputs (issue 17, data loss): every input a job reads may not be its output, an existing
 * non-regular file is never replaced, a failed or cancelled job leaves exactly what was there before,
 * two jobs never write one output. Each case checks the error names what and where, and that the
 * inputs are byte-identical afterwards. See docs/hostile-inputs.md.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  renameSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
  rmSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runJob } from '../../../engine/job';
import { preflight } from '../../../engine/jobPreflight';
import { lockOutput } from '../../../engine/outputLock';
import { lockPathFor } from '../../../recipe/jobPaths';
import { loadModel } from '../../../engine/onnx/model';
import { writeModelStreaming } from '../../../engine/export/writeStreaming';
import { layerPlans, storiesPlan } from '../engine/planFixture';
import { skipNoShared, stories } from '../engine/sharedFixtures';

const snapshot = (paths: string[]) => paths.map((p) => readFileSync(p));
const dirs: string[] = [];
process.on('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'lowbit-hostile-'));
  dirs.push(d);
  return d;
};

/** m/model.onnx: stories260K with its weights (layers.0.wq among them) in m/<stem>.onnx.data. */
async function externalModel(stem = 'weights'): Promise<{ dir: string; model: string; weights: string }> {
  const dir = tmp();
  const src = await loadModel(stories.model);
  await writeModelStreaming(src.proto, join(dir, `${stem}.onnx`), {
    inputPath: stories.model,
    src: src.src,
    label: src.path,
    externalData: 'always',
  });
  const model = join(dir, 'model.onnx');
  if (stem !== 'model') renameSync(join(dir, `${stem}.onnx`), model);
  return { dir, model, weights: join(dir, `${stem}.onnx.data`) };
}

const onlyW = layerPlans('rtn', 4, 32, ['output']);
const randomPlan = (model: string, outputPath: string) =>
  storiesPlan({
    modelPath: model,
    outputPath,
    reportPath: `${outputPath}.report.json`,
    layers: onlyW,
    calibration: { kind: 'random', samples: 2, seed: 0, mode: 'parallel' },
    evaluation: { kind: 'none', metrics: ['size'] },
  });

describe('hostile outputs: inputs are never overwritten', { skip: skipNoShared }, () => {
  test("output = the input model's external data file: refused, weights byte-identical", async () => {
    const m = await externalModel();
    const before = snapshot([m.model, m.weights]);
    await assert.rejects(runJob(randomPlan(m.model, m.weights)), /output .*weights\.onnx\.data is the input model's external data/);
    assert.deepEqual(snapshot([m.model, m.weights]), before);
  });
  test('output whose .data file would be the external data (model keeps out.onnx.data, output out.onnx): refused', async () => {
    const m = await externalModel('out');
    const before = snapshot([m.model, m.weights]);
    await assert.rejects(
      runJob(randomPlan(m.model, join(m.dir, 'out.onnx'))),
      /output external data .*out\.onnx\.data is the input model's external data/,
    );
    assert.deepEqual(snapshot([m.model, m.weights]), before);
  });
  test('a model with external data runs; its staged output is evaluated and committed', async () => {
    const m = await externalModel();
    const before = snapshot([m.model, m.weights]);
    const out = join(m.dir, 'q', 'out.onnx');
    const report = await runJob(randomPlan(m.model, out));
    assert.equal(report.output, out);
    assert.ok(existsSync(out) && existsSync(`${out}.report.json`));
    assert.deepEqual(
      readdirSync(dirname(out)).filter((f) => f.startsWith('.') && f !== '.lowbit-history'),
      [],
      'no staging folder or lock left',
    );
    assert.deepEqual(snapshot([m.model, m.weights]), before);
  });
});

describe('hostile outputs: every other input (stories260K)', { skip: skipNoShared }, () => {
  const cases: [string, (d: string) => Partial<Parameters<typeof storiesPlan>[0]>, RegExp][] = [
    [
      'the tokenizer',
      (d) => ({
        calibration: {
          kind: 'text',
          textPath: stories.text,
          tokenizerPath: join(d, 'tok.json'),
          samples: 2,
          sequenceLength: 16,
          mode: 'parallel',
        },
        outputPath: join(d, 'tok.json'),
      }),
      /is the calibration tokenizer/,
    ],
    [
      'the calibration text',
      (d) => ({
        calibration: {
          kind: 'text',
          textPath: join(d, 'cal.txt'),
          tokenizerPath: stories.tokenizer,
          samples: 2,
          sequenceLength: 16,
          mode: 'parallel',
        },
        outputPath: join(d, 'cal.txt'),
      }),
      /is the calibration text/,
    ],
    [
      'the evaluation text',
      (d) => ({
        evaluation: {
          kind: 'text',
          textPath: join(d, 'ev.txt'),
          tokenizerPath: stories.tokenizer,
          samples: 2,
          sequenceLength: 16,
          metrics: ['perplexity'],
        },
        outputPath: join(d, 'ev.txt'),
      }),
      /is the evaluation text/,
    ],
    [
      'the calibration tensors',
      (d) => ({ calibration: { kind: 'tensors', path: join(d, 'cal.npz'), samples: 2, mode: 'parallel' }, outputPath: join(d, 'cal.npz') }),
      /is the calibration tensors/,
    ],
    [
      'the evaluation labels',
      (d) => ({
        evaluation: {
          kind: 'images',
          path: d,
          samples: 1,
          image: { height: 8, width: 8, mean: [0], std: [1], layout: 'nchw', channels: 'rgb' },
          labelsPath: join(d, 'labels.txt'),
          metrics: [],
        },
        outputPath: join(d, 'labels.txt'),
      }),
      /is the evaluation labels/,
    ],
    [
      'the recipe',
      (d) => ({ recipePath: join(d, 'r.lowbit.yaml'), outputPath: join(d, 'r.lowbit.yaml') }),
      /output .*r\.lowbit\.yaml is the recipe/,
    ],
  ];
  for (const [what, over, re] of cases) {
    test(`output = ${what}: refused before any work, the file byte-identical`, async () => {
      const d = tmp();
      for (const f of ['tok.json', 'cal.txt', 'ev.txt', 'cal.npz', 'labels.txt', 'r.lowbit.yaml'])
        writeFileSync(join(d, f), `${f} content`);
      const plan = storiesPlan({ layers: layerPlans('rtn', 4, 32, ['output']), ...over(d) });
      const before = snapshot([plan.outputPath]);
      await assert.rejects(runJob(plan), re);
      assert.deepEqual(snapshot([plan.outputPath]), before);
    });
  }
  test('the report path is the input model (model foo.report.json, output foo.onnx): refused', async () => {
    const d = tmp();
    const model = join(d, 'foo.report.json');
    writeFileSync(model, readFileSync(stories.model));
    const plan = storiesPlan({
      modelPath: model,
      outputPath: join(d, 'foo.onnx'),
      reportPath: join(d, 'foo.report.json'),
      layers: layerPlans('rtn', 4, 32, ['output']),
    });
    await assert.rejects(runJob(plan), /report .*foo\.report\.json is the input model/);
    assert.deepEqual(readFileSync(model), readFileSync(stories.model));
  });
  test('a hard link to the model as output: refused by device + inode, and nothing is deleted', async () => {
    const d = tmp();
    const model = join(d, 'model.onnx');
    writeFileSync(model, readFileSync(stories.model));
    linkSync(model, join(d, 'link.onnx'));
    await assert.rejects(
      runJob(storiesPlan({ modelPath: model, outputPath: join(d, 'link.onnx'), layers: layerPlans('rtn', 4, 32, ['output']) })),
      /link\.onnx is the input model/,
    );
    assert.ok(existsSync(join(d, 'link.onnx')));
    assert.equal(statSync(model).nlink, 2);
  });
});

describe('hostile outputs: non-regular files, failures, locks', { skip: skipNoShared }, () => {
  test('a FIFO (made with mkfifo in a temp folder) as output is refused and stays a FIFO', async () => {
    const m = await externalModel();
    const fifo = join(m.dir, 'out.onnx');
    execFileSync('mkfifo', [fifo]);
    await assert.rejects(runJob(randomPlan(m.model, fifo)), /output .*out\.onnx exists and is a FIFO; only a regular file is replaced/);
    assert.ok(statSync(fifo).isFIFO());
  });
  test('a folder as output is a clear error (not EISDIR from a cleanup), the folder kept', async () => {
    const m = await externalModel();
    const folder = join(m.dir, 'outdir');
    mkdirSync(folder);
    writeFileSync(join(folder, 'keep'), 'k');
    await assert.rejects(
      runJob(randomPlan(m.model, folder)),
      (e: Error) => /outdir exists and is a folder/.test(e.message) && !/EISDIR/.test(e.message),
    );
    assert.equal(readFileSync(join(folder, 'keep'), 'utf8'), 'k');
  });
  test('a /proc output is refused before any work', async () => {
    const m = await externalModel();
    await assert.rejects(preflight(randomPlan(m.model, '/proc/self/lowbit-out.onnx')), /is in \/proc, a virtual file system/);
  });
  test('a .lowbit-history file next to the report is refused before any work', async () => {
    const m = await externalModel();
    writeFileSync(join(m.dir, '.lowbit-history'), 'not a folder');
    await assert.rejects(runJob(randomPlan(m.model, join(m.dir, 'out.onnx'))), /\.lowbit-history exists and is a file/);
  });
  test('a failed job keeps the previous output, its .data and its report byte-identical', async () => {
    const m = await externalModel();
    const out = join(m.dir, 'out.onnx');
    await runJob(randomPlan(m.model, out));
    const files = [out, `${out}.data`, `${out}.report.json`];
    const before = snapshot(files);
    const ac = new AbortController();
    await assert.rejects(
      runJob(randomPlan(m.model, out), {
        signal: ac.signal,
        onProgress: (p) => {
          if (p.stage === 'export') ac.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.deepEqual(snapshot(files), before);
    // A failure after export (not a cancel): a missing evaluation tensor file found only when evaluating.
    const plan = {
      ...randomPlan(m.model, out),
      evaluation: { kind: 'tensors' as const, path: join(m.dir, 'missing.npz'), samples: 1, metrics: ['size' as const] },
    };
    await assert.rejects(runJob(plan), /missing\.npz/);
    assert.deepEqual(snapshot(files), before);
    assert.deepEqual(
      readdirSync(m.dir).filter((f) => f.includes('staging') || f.endsWith('.lock')),
      [],
    );
  });
  test('a hard link to a previous output (not an input) keeps its content after a new run', async () => {
    const m = await externalModel();
    const out = join(m.dir, 'out.onnx');
    await runJob(randomPlan(m.model, out));
    linkSync(out, join(m.dir, 'keep.onnx'));
    const kept = readFileSync(out);
    await runJob(randomPlan(m.model, out));
    assert.deepEqual(readFileSync(join(m.dir, 'keep.onnx')), kept);
    assert.ok(existsSync(out));
  });
  test('two jobs on one output: the second is refused naming the lock holder; a stale lock is taken over', async () => {
    const m = await externalModel();
    const out = join(m.dir, 'out.onnx');
    const release = await lockOutput(out);
    await assert.rejects(
      runJob(randomPlan(m.model, out)),
      new RegExp(`out\\.onnx is locked by pid ${process.pid} on ${hostname()} since .*out\\.onnx\\.lock`),
    );
    assert.equal(existsSync(out), false);
    await release();
    // A dead process's lock (same host): stale, taken over, removed after the run.
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
    writeFileSync(lockPathFor(out), JSON.stringify({ pid: dead, host: hostname(), started: '2026-01-01T00:00:00Z' }));
    await runJob(randomPlan(m.model, out));
    assert.ok(existsSync(out));
    assert.equal(existsSync(lockPathFor(out)), false);
  });
  test('two jobs started together on one output: exactly one succeeds, the report describes its model', async () => {
    const m = await externalModel();
    const out = join(m.dir, 'out.onnx');
    const results = await Promise.allSettled([runJob(randomPlan(m.model, out)), runJob(randomPlan(m.model, out))]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    assert.match(String((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), /is locked by/);
    const report = JSON.parse(readFileSync(`${out}.report.json`, 'utf8'));
    assert.equal(report.output, out);
  });
});
