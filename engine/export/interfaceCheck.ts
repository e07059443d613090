/**
 * The compressed model must keep the original's interface: every graph input and output, by name
 * and element type, and every output still produced (a KV-cache decoder's `present.*` outputs feed
 * its next step). Checked on the exported graph before anything is written.
 */
import type { GraphProto } from '../onnx/onnxProto';
import { dtypeName } from '../onnx/tensor';

/** @throws Error naming the model and the first input or output the export would lose or change. */
export function checkInterfaceKept(original: GraphProto, exported: GraphProto, label: string): void {
  const origInits = new Set(original.initializer.map((t) => t.name));
  const inputs = new Map(exported.input.map((v) => [v.name, v]));
  for (const v of original.input) {
    if (origInits.has(v.name)) continue;
    const e = inputs.get(v.name);
    if (!e) throw new Error(`${label}: the compressed model would lose graph input '${v.name}'; nothing was written`);
    if (e.type.elemType !== v.type.elemType)
      throw new Error(
        `${label}: the compressed model would change graph input '${v.name}' from ${dtypeName(v.type.elemType)} to ${dtypeName(e.type.elemType)}; nothing was written`,
      );
  }
  const outputs = new Map(exported.output.map((v) => [v.name, v]));
  const produced = new Set<string>([
    ...exported.input.map((v) => v.name),
    ...exported.initializer.map((t) => t.name),
    ...exported.node.flatMap((n) => n.output),
  ]);
  for (const v of original.output) {
    const e = outputs.get(v.name);
    const what = /^present[._]|present_key|present_value/.test(v.name) ? 'cache output' : 'graph output';
    if (!e) throw new Error(`${label}: the compressed model would lose ${what} '${v.name}'; nothing was written`);
    if (!produced.has(v.name))
      throw new Error(
        `${label}: ${what} '${v.name}' cannot be kept: no node of the compressed graph produces it (its producer was rewritten); leave the layers feeding it unquantized; nothing was written`,
      );
    if (e.type.elemType !== v.type.elemType)
      throw new Error(
        `${label}: the compressed model would change ${what} '${v.name}' from ${dtypeName(v.type.elemType)} to ${dtypeName(e.type.elemType)}; nothing was written`,
      );
  }
}
