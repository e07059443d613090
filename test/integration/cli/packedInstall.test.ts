/**
 * The packed package as a user installs it: `npm pack` in the checkout (the real lifecycle: bundles,
 * native prebuilt, onnxruntime's CPU build, shrinkwrap), then the README's plain install line in an
 * empty temp project (`npm install <tarball>`, no flags, no ONNXRUNTIME_NODE_INSTALL) on a machine
 * where onnxruntime-node's install script cannot download its CUDA provider (its download agent is
 * pointed at a closed port, so the outcome does not depend on this machine's routes): npm drops that
 * optional dependency and lowbit runs on the copy it carries. Then `npx lowbit` there: --version, and
 * `lowbit run` on a recipe over the self-made tiny Llama model, whose compressed output onnxruntime loads.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Report } from '../../../protocol/report';
import { writeTinyLlama } from '../../fixtures/tinyLlama';
import { repoRoot } from '../engine/sharedFixtures';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the packed tarball installed into an empty project', { timeout: 600_000 }, () => {
  let tmp = '';
  let project = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'lowbit-pack-'));
    const packed = sh(npm, ['pack', '--pack-destination', tmp, '--json'], repoRoot);
    assert.equal(packed.code, 0, packed.stderr);
    const files = (JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { files: { path: string }[] }[])[0]!.files.map(
      (f) => f.path,
    );
    for (const f of [
      'bin/lowbit.js',
      'dist/cli.js',
      'native/binding.gyp',
      'scripts/install-native.mjs',
      'npm-shrinkwrap.json',
      `native/prebuilt/${process.platform}-${process.arch}/lowbit_native.node`,
      `native/prebuilt/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`,
      'native/prebuilt/onnxruntime-node/dist/index.js',
    ]) {
      assert.ok(files.includes(f), `the tarball lacks ${f}`);
    }
    assert.ok(
      !files.some((f) => f.startsWith('test/') || f.startsWith('language-server/')),
      'the tarball carries sources it does not need',
    );
    assert.ok(
      !existsSync(join(repoRoot, 'native/prebuilt')) && !existsSync(join(repoRoot, 'npm-shrinkwrap.json')),
      'npm pack left files in the checkout',
    );
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    assert.equal(tarball, `lowbit-${version}.tgz`);

    project = join(tmp, 'project');
    writeTinyLlama(join(project, 'tiny'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-lowbit', version: '1.0.0', private: true }));
    // No network for onnxruntime-node's NuGet download: global-agent (its downloader) goes through a closed port.
    const offlineDownloads = { GLOBAL_AGENT_HTTP_PROXY: 'http://127.0.0.1:9', GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9' };
    const env = { ...offlineDownloads, ONNXRUNTIME_NODE_INSTALL: '', npm_config_onnxruntime_node_install: '' };
    const installed = sh(npm, ['install', join(tmp, tarball!)], project, env);
    assert.equal(installed.code, 0, `plain npm install failed:\n${installed.stdout}\n${installed.stderr}`);
  });
  after(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("onnxruntime-node's download failed, so npm dropped it; lowbit's own copy is what runs", () => {
    assert.ok(!existsSync(join(project, 'node_modules/onnxruntime-node')), 'the download should have failed offline');
    assert.ok(existsSync(join(project, 'node_modules/onnxruntime-common/package.json')), 'onnxruntime-common is a plain dependency');
  });

  test('npx lowbit --version there prints the version; the shipped addon was installed, not built', () => {
    const r = sh(npx, ['lowbit', '--version'], project);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
    assert.ok(existsSync(join(project, 'node_modules/lowbit/native/build/Release/lowbit_native.node')));
    assert.ok(!existsSync(join(project, 'node_modules/lowbit/native/build/Makefile')), 'node-gyp ran although the shipped addon loads');
  });

  test('lowbit run compresses the tiny model there; onnxruntime loads the output', async () => {
    writeFileSync(
      join(project, 'w4.lowbit.yaml'),
      `version: 1
model: ./tiny/model.onnx
output: ./out/model-w4.onnx
format: matmulnbits
calibration: { text: ./tiny/text.txt, tokenizer: ./tiny/tokenizer.json, samples: 4, sequence_length: 64 }
defaults: { method: gptq, bits: 4, group_size: 32 }
evaluate: { text: ./tiny/text.txt, samples: 2, sequence_length: 64, offset: 2000, metrics: [perplexity, kl_divergence, size] }
`,
    );
    const r = sh(npx, ['--no-install', 'lowbit', 'run', 'w4.lowbit.yaml', '--json'], project);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.layers.length, 15);
    assert.ok(report.layers.every((l) => l.method === 'gptq' && l.bits === 4));
    const session = await ort.InferenceSession.create(join(project, 'out/model-w4.onnx'));
    const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.of(1n, 5n, 9n), [1, 3]) });
    assert.deepEqual(out.logits!.dims.slice(0, 2), [1, 3]);
    const bad = sh(npx, ['--no-install', 'lowbit', 'run', 'missing.lowbit.yaml'], project);
    assert.equal(bad.code, 1);
  });
});
