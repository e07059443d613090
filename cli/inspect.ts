/** `lowbit inspect <model.onnx> [--json]`: the model's inputs, outputs and layers. */
import { loadModel } from '../engine/onnx/model';
import { inspectTable } from '../engine/report/formatTables';

const USAGE = 'usage: lowbit inspect <model.onnx> [--json]';

/** Exit codes: 0 ok, 1 the model cannot be read, 2 usage. */
export async function main(args: string[]): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  if (rest.length !== 1 || rest[0].startsWith('-')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    const summary = (await loadModel(rest[0])).summary();
    process.stdout.write(json ? JSON.stringify(summary, null, 2) + '\n' : inspectTable(summary) + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`lowbit inspect: ${(e as Error).message}\n`);
    return 1;
  }
}
