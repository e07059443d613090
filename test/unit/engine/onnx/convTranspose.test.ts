// ConvTranspose layer discovery and its matrix view: W [C_in, C_out/g, kh, kw] is seen as
// [rows = C_out·kh·kw, cols = C_in/g] (per group, the transpose of the stored block); checked
// against an index formula written independently in the fixture.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseModel } from '../../../../engine/onnx/model';
import { convTransposeLayout, convTransposeToMatrix, matrixToConvTranspose } from '../../../../engine/onnx/layers';
import { makeFloatTensor } from '../../../../engine/onnx/tensor';
import { convTransposeModel, matrixToStored, SPECS, weights } from './convTransposeModel';
import { encode, randn } from './tinyModels';

describe('ConvTranspose layers', () => {
  test('both layers are quantizable with shape [C_out·kh·kw, C_in/g]; biases are not listed', () => {
    const model = parseModel(encode(convTransposeModel()), 'ct.onnx');
    const info = model.summary().layers;
    assert.deepEqual(
      info.map((l) => [l.name, l.op, l.shape, l.dims, l.params, l.quantizable]),
      [
        ['up.weight', 'ConvTranspose', [8 * 3 * 3, 16], [16, 8, 3, 3], 16 * 8 * 9, true],
        ['up2.weight', 'ConvTranspose', [6 * 2 * 3, 8], [16, 3, 2, 3], 16 * 3 * 6, true],
      ],
    );
    assert.equal(model.layerInput('up2.weight'), 'x');
  });

  test('getWeight is the matrix view, and matrixToConvTranspose inverts it', () => {
    const w = weights();
    const model = parseModel(encode(convTransposeModel(w)), 'ct.onnx');
    for (const s of SPECS) {
      const m = model.getWeight(s.weight);
      assert.deepEqual([m.rows, m.cols], model.layer(s.weight).shape);
      // The fixture's independent matrix → stored mapping must give back the stored weight.
      assert.deepEqual(matrixToStored(s, m.data), w.get(s.weight));
      const t = convTransposeLayout(model.layer(s.weight));
      assert.deepEqual(t, { group: s.group, inPerGroup: 16 / s.group, rowsPerGroup: s.dims[1] * s.dims[2] * s.dims[3] });
      assert.deepEqual(matrixToConvTranspose(m.data, t), w.get(s.weight));
      const codes = Uint8Array.from(m.data, (v) => Math.round((v + 1) * 100));
      assert.deepEqual(convTransposeToMatrix(matrixToConvTranspose(codes, t), t), codes);
    }
  });

  test('a weight that does not split into the groups, or a rank-2 weight, is listed with a reason', () => {
    const proto = convTransposeModel();
    const g = proto.graph!;
    g.initializer[2] = makeFloatTensor('up2.weight', [15, 3, 2, 3], randn(15 * 18));
    g.initializer[0] = makeFloatTensor('up.weight', [16, 8], randn(128));
    const layers = parseModel(encode(proto), 'ct.onnx').summary().layers;
    assert.equal(layers[0].quantizable, false);
    assert.match(layers[0].reason ?? '', /ConvTranspose weight has rank 2/);
    assert.equal(layers[1].quantizable, false);
    assert.match(layers[1].reason ?? '', /does not split into group=2/);
  });
});
