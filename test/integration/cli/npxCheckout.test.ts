/**
 * The `lowbit` command reached the ways users reach it in a checkout: `npx lowbit` (npm's link to the
 * package's bin), a symlink named `lowbit` (what npm's .bin/ and a global install create), and the
 * bin file itself; the exit codes (0 ok, 1 errors, 2 usage) come through each.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from '../engine/sharedFixtures';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

function sh(cmd: string, args: string[], cwd = repoRoot, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('lowbit in the checkout', () => {
  test('npx lowbit --version prints the package version', () => {
    const r = sh(npx, ['--no-install', 'lowbit', '--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  });

  test('npx lowbit with an unknown command exits 2 with the usage', () => {
    const bad = sh(npx, ['--no-install', 'lowbit', 'frobnicate']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown command 'frobnicate'/);
    assert.match(bad.stderr, /lowbit run <recipe\.lowbit\.yaml>/);
  });

  test('a symlink named lowbit (npm link, .bin, global install) runs the CLI, not a silent no-op', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-link-'));
    try {
      const link = join(dir, 'lowbit');
      symlinkSync(join(repoRoot, 'bin/lowbit.js'), link);
      const r = sh(link, ['--version'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
      const usage = sh(link, [], dir);
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /usage:/);
      const help = sh(link, ['--help'], dir);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^lowbit \d+\.\d+\.\d+ — low-bit compression/);
      const missing = sh(link, ['check', 'no-such.lowbit.yaml'], dir);
      assert.equal(missing.code, 1, missing.stdout + missing.stderr);
      assert.match(missing.stderr + missing.stdout, /no-such\.lowbit\.yaml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a clone never installed: npx lowbit --version answers, a command says to install, and npx keeps working', () => {
    // npm 11's npx links such a checkout into its cache and runs its prepare and install scripts
    // without the dependencies; a failing script left a cache entry that broke every later npx there.
    const dir = mkdtempSync(join(tmpdir(), 'lowbit-clone-'));
    try {
      const clone = join(dir, 'lowbit');
      const tracked = spawnSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
      assert.ok(tracked.includes('bin/lowbit.js'), 'git lists the checkout');
      for (const f of tracked) {
        mkdirSync(dirname(join(clone, f)), { recursive: true });
        copyFileSync(join(repoRoot, f), join(clone, f));
      }
      const env = { npm_config_cache: join(dir, 'npm-cache'), npm_config_offline: 'true' };
      for (let i = 0; i < 2; i++) {
        const r = sh(npx, ['lowbit', '--version'], clone, env);
        assert.equal(r.code, 0, `run ${i + 1}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stdout, `${version}\n`);
      }
      const check = sh(npx, ['lowbit', 'check', 'x.lowbit.yaml'], clone, env);
      assert.equal(check.code, 1);
      assert.match(check.stderr, /run `npm install`/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
