import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LayerCache } from '../../../../language-server/src/services/modelSource';
import type { ModelSummary } from '../../../../protocol/model';
import { storiesLayers } from '../fixtures';

const storiesModel = path.resolve(__dirname, '..', '..', '..', '..', '..', 'shared', 'models', 'stories260K', 'model.onnx');

test('the layer cache re-reads a model only when its mtime or size changes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-cache-'));
  const file = path.join(dir, 'm.onnx');
  fs.writeFileSync(file, 'v1');
  let loads = 0;
  const cache = new LayerCache(async (p) => {
    loads++;
    return { path: p, layers: storiesLayers().slice(0, fs.readFileSync(p, 'utf8').length) } as unknown as ModelSummary;
  });
  assert.equal((await cache.get(file)).layers.length, 2);
  await cache.get(file);
  assert.equal(loads, 1);
  fs.writeFileSync(file, 'v1-longer');
  assert.equal((await cache.get(file)).layers.length, 9);
  assert.equal(loads, 2);
  cache.invalidate(file);
  await cache.get(file);
  assert.equal(loads, 3);
  fs.rmSync(dir, { recursive: true });
});

test('a failed load is not cached', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lowbit-cache-'));
  const file = path.join(dir, 'm.onnx');
  fs.writeFileSync(file, 'x');
  let fail = true;
  const cache = new LayerCache(async () => {
    if (fail) throw new Error('bad model');
    return { layers: [] } as unknown as ModelSummary;
  });
  await assert.rejects(cache.get(file), /bad model/);
  fail = false;
  assert.deepEqual((await cache.get(file)).layers, []);
  fs.rmSync(dir, { recursive: true });
});

test(
  'the default loader reads stories260K through the ONNX engine',
  { skip: fs.existsSync(storiesModel) ? false : `no ${storiesModel}` },
  async () => {
    const s = await new LayerCache().get(storiesModel);
    assert.equal(s.layers.filter((l) => l.quantizable && !l.embedding).length, 36);
    assert.deepEqual(s.layers.find((l) => l.name === 'layers.0.w2')!.shape, [64, 172]);
  },
);
