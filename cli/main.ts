/** The `lowbit` command line: dispatch to run / inspect / check / lsp. Exit codes: 0 ok, 1 errors, 2 usage. */
import pkg from '../package.json';
import { isMainThread } from 'node:worker_threads';

const HELP = `lowbit ${(pkg as { version: string }).version} — low-bit compression for ONNX models

usage:
  lowbit run <recipe.lowbit.yaml> [--json]   compress and evaluate; print tables (or the report JSON)
  lowbit check <recipe.lowbit.yaml> [--json] check a recipe against its model
  lowbit inspect <model.onnx> [--json]        list a model's inputs, outputs and layers
  lowbit suggest <recipe.lowbit.yaml> [--bits-per-weight X | --bytes N | --ratio R] [--json] [--write]
                                              per-layer mixed precision that fits a size budget
  lowbit lsp --stdio                          run the language server
  lowbit --version | --help
`;

/** Commands load lazily: `inspect` never loads the native addon, `check` never loads onnxruntime. */
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  run: async (a) => (await import('./run')).main(a),
  check: async (a) => (await import('./check')).main(a),
  inspect: async (a) => (await import('./inspect')).main(a),
  lsp: async (a) => (await import('./lsp')).main(a),
  suggest: async (a) => (await import('./suggest')).main(a),
};

/** Runs the CLI on `argv` (without node and the script); resolves with the exit code. */
export async function cli(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(`${(pkg as { version: string }).version}\n`);
    return 0;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const fn = cmd ? COMMANDS[cmd] : undefined;
  if (!fn) {
    process.stderr.write(`${cmd ? `lowbit: unknown command '${cmd}'\n` : ''}${HELP}`);
    return 2;
  }
  return fn(args);
}

/**
 * Runs the CLI on this process's arguments and keeps its exit code. `bin/lowbit.js` calls this, so the
 * command works however it is reached (a direct path, npm's `.bin/lowbit` link, npx, a global install).
 */
export function runMain(argv: string[] = process.argv.slice(2)): Promise<void> {
  return cli(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`lowbit: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

// Run directly (`node dist/cli.js`, or this file through tsx); a `require` from bin/lowbit.js does not.
// Not in a worker thread: the language server's recipe check worker loads this bundle too.
if (require.main === module && isMainThread) void runMain();
