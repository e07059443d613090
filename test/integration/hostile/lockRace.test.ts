/**
 * The stale-lock takeover race (issue 17): two real processes find the same stale lock (a dead pid)
 * at the same instant and both try to take it over. Exactly one may get it; the other is told who
 * holds it. Repeated over many rounds so an unguarded check-then-delete loses at least once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lockPathFor } from '../../../recipe/jobPaths';

const racer = resolve(__dirname, '../../fixtures/lockRacer.ts');
const ROUNDS = 30;
const GAP_MS = 60;

function lines(child: ChildProcess): { next: (pred: (l: string) => boolean) => Promise<void>; all: string[] } {
  const all: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: () => void }[] = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += String(d);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      all.push(l);
      for (const w of [...waiters])
        if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
    }
  });
  return { all, next: (pred) => (all.some(pred) ? Promise.resolve() : new Promise((r) => waiters.push({ pred, resolve: r }))) };
}

test('two processes taking over the same stale lock at once: exactly one gets it, every round', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lowbit-lock-race-'));
  try {
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']));
    for (let r = 0; r < ROUNDS; r++)
      writeFileSync(lockPathFor(join(dir, `o${r}.onnx`)), JSON.stringify({ pid: dead, host: hostname(), started: '2026-01-01T00:00:00Z' }));
    const children = [0, 1].map(() =>
      spawn(process.execPath, ['--import', 'tsx', racer, dir, String(ROUNDS), String(GAP_MS)], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    const outs = children.map(lines);
    await Promise.all(outs.map((o) => o.next((l) => l === 'ready')));
    const startAt = Date.now() + 500;
    for (const c of children) c.stdin!.write(`${startAt}\n`);
    await Promise.all(outs.map((o) => o.next((l) => l === 'done')));
    for (const c of children) c.stdin!.end();
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
    const results = outs.map((o) =>
      o.all.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { round: number; ok: boolean; error?: string }),
    );
    for (let r = 0; r < ROUNDS; r++) {
      const [a, b] = results.map((rs) => rs.find((x) => x.round === r)!);
      assert.equal(Number(a.ok) + Number(b.ok), 1, `round ${r}: ${JSON.stringify([a, b])}`);
      const loser = a.ok ? b : a;
      const winner = children[a.ok ? 0 : 1];
      assert.match(loser.error!, new RegExp(`o${r}\\.onnx is locked by pid ${winner.pid} on `), `round ${r}`);
    }
    // No temp files or takeover markers are left behind.
    assert.deepEqual(
      readdirSync(dir).filter((f) => !/^o\d+\.onnx\.lock$/.test(f)),
      [],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
