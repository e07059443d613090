// Packaging check: `vsce package --target linux-x64` (with .vscodeignore), then installs the .vsix into
// code-server with a throwaway extensions dir and checks that the installed extension carries its
// bundles, panels, native addon and a loadable onnxruntime-node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function sh(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).split('\n').slice(-8).join(' ')}`);
  return r.stdout;
}

/** Returns a test result {title, state, error?}. */
export function checkPackage(root, tc) {
  const title = 'package: .vsix builds and installs into code-server';
  const tmp = mkdtempSync(join(tmpdir(), 'lowbit-vsix-'));
  try {
    const vsix = join(tmp, 'lowbit.vsix');
    sh(
      process.execPath,
      [
        join(root, 'node_modules/@vscode/vsce/vsce'),
        'package',
        '--allow-missing-repository',
        '--no-rewrite-relative-links',
        '--target',
        'linux-x64',
        '--out',
        vsix,
      ],
      { cwd: root, input: 'y\ny\n' },
    );
    const common = ['--extensions-dir', join(tmp, 'ext'), '--user-data-dir', join(tmp, 'ud')];
    const env = { ...process.env, XDG_CONFIG_HOME: join(tmp, 'cfg') };
    sh(tc.node24, [tc.codeServer, ...common, '--install-extension', vsix], { env });
    const list = sh(tc.node24, [tc.codeServer, ...common, '--list-extensions', '--show-versions'], { env });
    if (!/lowbit\.lowbit@/.test(list)) throw new Error(`not listed after install: ${list}`);
    const dir = join(tmp, 'ext', readdirSync(join(tmp, 'ext')).find((d) => d.startsWith('lowbit.lowbit-')) ?? 'missing');
    for (const f of [
      'dist/extension.js',
      'dist/server.js',
      'dist/webview/report.js',
      'media/panel.css',
      'native/build/Release/lowbit_native.node',
    ]) {
      if (!existsSync(join(dir, f))) throw new Error(`installed extension lacks ${f}`);
    }
    sh(
      process.execPath,
      ['-e', "const o=require('./node_modules/onnxruntime-node'); if (typeof o.InferenceSession.create !== 'function') process.exit(3)"],
      { cwd: dir },
    );
    return { title, state: 'passed' };
  } catch (e) {
    return { title, state: 'failed', error: String(e?.message ?? e) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
