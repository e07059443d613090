/**
 * Rotation of LayerNorm decoders exported by torch.onnx itself (test/fixtures/llm/torchGpt2Export.py,
 * Debian's python3-torch): opset 14 writes the decomposed LayerNorm, opset 17 LayerNormalization.
 * Skipped, saying why, when /usr/bin/python3 has no torch.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModel } from '../../../engine/onnx';
import { rotateModel } from '../../../engine/transforms/rotation';
import { maxAbsDiff, modelLogits } from '../../fixtures/llm';

const PYTHON = '/usr/bin/python3';
const skip =
  existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0
    ? false
    : `torch is not installed for ${PYTHON} (apt-get install python3-torch)`;

const logits = (model: string | Uint8Array) =>
  modelLogits(
    model,
    Array.from({ length: 12 }, (_, i) => (i * 37 + 5) % 512),
  );

describe('rotation of torch.onnx-exported GPT-2-style decoders', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lowbit-rot-torch-'));
    const r = spawnSync(PYTHON, [join(__dirname, '..', '..', 'fixtures', 'llm', 'torchGpt2Export.py'), dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const kind of ['linear', 'conv1d'] as const)
    for (const opset of [14, 17])
      test(`${kind === 'linear' ? 'nn.Linear (MatMul + Add)' : "GPT-2's Conv1D (Reshape, Gemm, Reshape)"}, opset ${opset} (${opset < 17 ? 'decomposed LayerNorm' : 'LayerNormalization'}): logits unchanged to 1e-4, offline and online down`, async () => {
        const path = join(dir, `gpt-${kind}-${opset}.onnx`);
        const m = await loadModel(path);
        const ops = m.graph.node.map((n) => n.opType);
        assert.equal(ops.includes('LayerNormalization'), opset >= 17, 'the exporter wrote the form this test is about');
        assert.equal(ops.filter((o) => o === 'Gemm').length, kind === 'conv1d' ? 12 : 0);
        const fp = await logits(path);
        for (const online of ['none', 'down'] as const) {
          const { model: rot, record } = rotateModel(m, { seed: 1, online });
          assert.equal(record.layer_norm?.rewritten.length, 5);
          assert.deepEqual(record.tables, ['wpe.weight']);
          assert.equal(record.readers.length, 9);
          assert.equal(record.writers.length, 4);
          assert.equal(record.online?.length ?? 0, online === 'down' ? 2 : 0);
          const diff = maxAbsDiff(await logits(rot.serialize()), fp);
          assert.ok(diff < 1e-4, `${online}: max |Δlogit| = ${diff}`);
        }
      });
});
