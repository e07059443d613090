import { loadModel } from './language-server/src/engine/onnx/model';
import { partitionGraph } from './language-server/src/engine/stream/partition';
import { blockModel } from './language-server/src/engine/stream/blockModel';
import { encodeModel } from './language-server/src/engine/onnx/onnxProto';
import * as ort from 'onnxruntime-node';
void (async () => {
  const m = await loadModel('/work/shared/models/stories260K/model.onnx');
  const layers = m.layers.filter((l) => l.quantizable).map((l) => ({ name: l.name, node: l.nodeRef, input: l.input }));
  const blocks = partitionGraph(m.graph, layers);
  for (const b of blocks) console.log(b.index, b.layers.join(','), 'IN', b.inputs.join(' '), 'OUT', b.outputs.join(' '), 'CARRY', b.carried.join(' '));
  const bm = blockModel(m.proto, blocks[0], new Map(), 1);
  bm.graph!.output = bm.graph!.output.map((o) => ({ name: o.name, type: {}, unknown: [] }));
  const s = await ort.InferenceSession.create(encodeModel(bm));
  const ids = new BigInt64Array(8).fill(3n);
  const out = await s.run({ input_ids: new ort.Tensor('int64', ids, [1, 8]) });
  for (const [k, v] of Object.entries(out)) console.log(k, v.type, v.dims);
})();
