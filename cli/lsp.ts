/** `lowbit lsp --stdio`: the language server for any LSP editor (Neovim, Helix, …). */
import { startServer } from '../language-server/src/handlers/connection';

/** CLI entry; resolves only when the client closes the connection. */
export async function main(args: string[]): Promise<number> {
  if (!args.includes('--stdio') && !args.some((a) => a.startsWith('--node-ipc') || a.startsWith('--socket') || a.startsWith('--pipe'))) {
    process.stderr.write('usage: lowbit lsp --stdio\n');
    return 2;
  }
  const connection = startServer(['--stdio', ...args]);
  return new Promise<number>((resolve) => connection.onExit(() => resolve(0)));
}
