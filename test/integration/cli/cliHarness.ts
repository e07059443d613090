/** Runs the real CLI entry (cli/main.ts through tsx) as a child process. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot } from '../engine/sharedFixtures';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `lowbit <args>`; `onStderr` sees stderr as it arrives (e.g. to send SIGINT mid-run). */
export function runCli(args: string[], onStderr?: (chunk: string, child: ReturnType<typeof spawn>) => void): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(repoRoot, 'cli/main.ts'), ...args], { cwd: repoRoot });
    let stdout = '',
      stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(String(d), child);
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}
