/**
 * ONNX messages (field numbers from onnx/onnx `onnx.proto`) decoded into plain objects and encoded
 * back. Fields we do not model are kept as raw bytes (`unknown`) and written back byte-for-byte;
 * TypeProto is kept raw too (with a decoded view for summaries).
 */
import { Reader, Writer, WIRE_I32, WIRE_LEN, WIRE_VARINT } from './protobuf';

export interface StringEntry {
  key: string;
  value: string;
}

export interface TensorProto {
  dims: number[];
  dataType: number;
  name: string;
  rawData?: Uint8Array;
  floatData: number[];
  int32Data: number[];
  int64Data: number[];
  externalData: StringEntry[];
  dataLocation?: number;
  unknown: Uint8Array[];
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  tensors: TensorProto[];
  graphs: GraphProto[];
  unknown: Uint8Array[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute: AttributeProto[];
  unknown: Uint8Array[];
}

/** Decoded view of a TypeProto (only tensor types are looked into). */
export interface TypeView {
  elemType?: number;
  dims?: (number | string)[];
}

export interface ValueInfoProto {
  name: string;
  /** The TypeProto's bytes, kept as they were. */
  typeRaw?: Uint8Array;
  type: TypeView;
  unknown: Uint8Array[];
}

export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  unknown: Uint8Array[];
}

export interface OpsetId {
  domain: string;
  version: number;
  unknown: Uint8Array[];
}

export interface ModelProto {
  irVersion?: number;
  opsetImport: OpsetId[];
  producerName?: string;
  producerVersion?: string;
  graph?: GraphProto;
  unknown: Uint8Array[];
}

// ---------------------------------------------------------------- decode

function decodeEntry(r: Reader): StringEntry {
  const e: StringEntry = { key: '', value: '' };
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) e.key = r.string();
    else if (field === 2 && wire === WIRE_LEN) e.value = r.string();
    else r.skip(wire, s);
  }
  return e;
}

/** Decodes a TensorProto; raw_data stays a view into the file buffer. */
export function decodeTensor(r: Reader): TensorProto {
  const t: TensorProto = { dims: [], dataType: 0, name: '', floatData: [], int32Data: [], int64Data: [], externalData: [], unknown: [] };
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.int64s(wire, t.dims);
        break;
      case 2:
        r.expect(wire, WIRE_VARINT, field);
        t.dataType = r.varint();
        break;
      case 4:
        r.floats(wire, t.floatData);
        break;
      case 5:
        r.int64s(wire, t.int32Data);
        break;
      case 7:
        r.int64s(wire, t.int64Data);
        break;
      case 8:
        r.expect(wire, WIRE_LEN, field);
        t.name = r.string();
        break;
      case 9:
        r.expect(wire, WIRE_LEN, field);
        t.rawData = r.bytes();
        break;
      case 13:
        r.expect(wire, WIRE_LEN, field);
        t.externalData.push(decodeEntry(r.sub('StringStringEntryProto')));
        break;
      case 14:
        r.expect(wire, WIRE_VARINT, field);
        t.dataLocation = r.varint();
        break;
      default:
        t.unknown.push(r.skip(wire, s));
    }
  }
  return t;
}

function decodeAttribute(r: Reader): AttributeProto {
  const a: AttributeProto = { name: '', floats: [], ints: [], strings: [], tensors: [], graphs: [], unknown: [] };
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, WIRE_LEN, field);
        a.name = r.string();
        break;
      case 20:
        r.expect(wire, WIRE_VARINT, field);
        a.type = r.varint();
        break;
      case 2:
        r.expect(wire, WIRE_I32, field);
        a.f = r.float();
        break;
      case 3:
        r.expect(wire, WIRE_VARINT, field);
        a.i = r.int64();
        break;
      case 4:
        r.expect(wire, WIRE_LEN, field);
        a.s = r.bytes();
        break;
      case 5:
        r.expect(wire, WIRE_LEN, field);
        a.t = decodeTensor(r.sub('TensorProto'));
        break;
      case 6:
        r.expect(wire, WIRE_LEN, field);
        a.g = decodeGraph(r.sub('GraphProto'));
        break;
      case 7:
        r.floats(wire, a.floats);
        break;
      case 8:
        r.int64s(wire, a.ints);
        break;
      case 9:
        r.expect(wire, WIRE_LEN, field);
        a.strings.push(r.bytes());
        break;
      case 10:
        r.expect(wire, WIRE_LEN, field);
        a.tensors.push(decodeTensor(r.sub('TensorProto')));
        break;
      case 11:
        r.expect(wire, WIRE_LEN, field);
        a.graphs.push(decodeGraph(r.sub('GraphProto')));
        break;
      default:
        a.unknown.push(r.skip(wire, s));
    }
  }
  return a;
}

function decodeNode(r: Reader): NodeProto {
  const n: NodeProto = { input: [], output: [], opType: '', attribute: [], unknown: [] };
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, WIRE_LEN, field);
        n.input.push(r.string());
        break;
      case 2:
        r.expect(wire, WIRE_LEN, field);
        n.output.push(r.string());
        break;
      case 3:
        r.expect(wire, WIRE_LEN, field);
        n.name = r.string();
        break;
      case 4:
        r.expect(wire, WIRE_LEN, field);
        n.opType = r.string();
        break;
      case 7:
        r.expect(wire, WIRE_LEN, field);
        n.domain = r.string();
        break;
      case 5:
        r.expect(wire, WIRE_LEN, field);
        n.attribute.push(decodeAttribute(r.sub('AttributeProto')));
        break;
      default:
        n.unknown.push(r.skip(wire, s));
    }
  }
  return n;
}

function decodeTypeView(r: Reader): TypeView {
  const v: TypeView = {};
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    if (field !== 1 || wire !== WIRE_LEN) {
      r.skip(wire, s);
      continue;
    }
    const tt = r.sub('TypeProto.Tensor');
    while (!tt.done) {
      const s2 = tt.pos;
      const f2 = tt.tag();
      if (f2.field === 1 && f2.wire === WIRE_VARINT) v.elemType = tt.varint();
      else if (f2.field === 2 && f2.wire === WIRE_LEN) {
        v.dims = [];
        const sh = tt.sub('TensorShapeProto');
        while (!sh.done) {
          const s3 = sh.pos;
          const f3 = sh.tag();
          if (f3.field !== 1 || f3.wire !== WIRE_LEN) {
            sh.skip(f3.wire, s3);
            continue;
          }
          const d = sh.sub('TensorShapeProto.Dimension');
          let dim: number | string = '?';
          while (!d.done) {
            const s4 = d.pos;
            const f4 = d.tag();
            if (f4.field === 1 && f4.wire === WIRE_VARINT) dim = d.int64();
            else if (f4.field === 2 && f4.wire === WIRE_LEN) dim = d.string();
            else d.skip(f4.wire, s4);
          }
          v.dims.push(dim);
        }
      } else tt.skip(f2.wire, s2);
    }
  }
  return v;
}

function decodeValueInfo(r: Reader): ValueInfoProto {
  const v: ValueInfoProto = { name: '', type: {}, unknown: [] };
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    if (field === 1 && wire === WIRE_LEN) v.name = r.string();
    else if (field === 2 && wire === WIRE_LEN) {
      const sub = r.sub('TypeProto');
      v.typeRaw = r.buf.subarray(sub.pos, sub.end);
      v.type = decodeTypeView(sub);
    } else v.unknown.push(r.skip(wire, s));
  }
  return v;
}

/** Decodes a GraphProto (recursively, bounded by the reader's depth limit). */
export function decodeGraph(r: Reader): GraphProto {
  const g: GraphProto = { node: [], initializer: [], input: [], output: [], valueInfo: [], unknown: [] };
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, WIRE_LEN, field);
        g.node.push(decodeNode(r.sub('NodeProto')));
        break;
      case 2:
        r.expect(wire, WIRE_LEN, field);
        g.name = r.string();
        break;
      case 5:
        r.expect(wire, WIRE_LEN, field);
        g.initializer.push(decodeTensor(r.sub('TensorProto')));
        break;
      case 11:
        r.expect(wire, WIRE_LEN, field);
        g.input.push(decodeValueInfo(r.sub('ValueInfoProto')));
        break;
      case 12:
        r.expect(wire, WIRE_LEN, field);
        g.output.push(decodeValueInfo(r.sub('ValueInfoProto')));
        break;
      case 13:
        r.expect(wire, WIRE_LEN, field);
        g.valueInfo.push(decodeValueInfo(r.sub('ValueInfoProto')));
        break;
      default:
        g.unknown.push(r.skip(wire, s));
    }
  }
  return g;
}

/** Decodes a serialized ModelProto. `file` is used in error messages only. */
export function decodeModel(buf: Uint8Array, file: string): ModelProto {
  const r = new Reader(buf, file);
  const m: ModelProto = { opsetImport: [], unknown: [] };
  while (!r.done) {
    const s = r.pos;
    const { field, wire } = r.tag();
    switch (field) {
      case 1:
        r.expect(wire, WIRE_VARINT, field);
        m.irVersion = r.varint();
        break;
      case 2:
        r.expect(wire, WIRE_LEN, field);
        m.producerName = r.string();
        break;
      case 3:
        r.expect(wire, WIRE_LEN, field);
        m.producerVersion = r.string();
        break;
      case 7:
        r.expect(wire, WIRE_LEN, field);
        m.graph = decodeGraph(r.sub('GraphProto'));
        break;
      case 8: {
        r.expect(wire, WIRE_LEN, field);
        const o = r.sub('OperatorSetIdProto');
        const op: OpsetId = { domain: '', version: 0, unknown: [] };
        while (!o.done) {
          const s2 = o.pos;
          const t = o.tag();
          if (t.field === 1 && t.wire === WIRE_LEN) op.domain = o.string();
          else if (t.field === 2 && t.wire === WIRE_VARINT) op.version = o.int64();
          else op.unknown.push(o.skip(t.wire, s2));
        }
        m.opsetImport.push(op);
        break;
      }
      default:
        m.unknown.push(r.skip(wire, s));
    }
  }
  if (!m.graph) r.fail('no graph (is this an ONNX model?)');
  if (m.irVersion === undefined) r.fail('no ir_version (is this an ONNX model?)');
  return m;
}

// ---------------------------------------------------------------- encode

function unknowns(w: Writer, u: Uint8Array[]): void {
  for (const b of u) w.raw(b);
}

/** Encodes a TensorProto. */
export function encodeTensor(t: TensorProto): Writer {
  const w = new Writer();
  w.packedInt64(1, t.dims);
  w.int(2, t.dataType);
  w.packedFloat(4, t.floatData);
  w.packedInt64(5, t.int32Data);
  w.packedInt64(7, t.int64Data);
  w.string(8, t.name);
  w.bytes(9, t.rawData);
  for (const e of t.externalData) {
    const ew = new Writer();
    ew.string(1, e.key);
    ew.string(2, e.value);
    w.message(13, ew);
  }
  w.int(14, t.dataLocation);
  unknowns(w, t.unknown);
  return w;
}

function encodeAttribute(a: AttributeProto): Writer {
  const w = new Writer();
  w.string(1, a.name);
  w.float(2, a.f);
  w.int(3, a.i);
  w.bytes(4, a.s);
  if (a.t) w.message(5, encodeTensor(a.t));
  if (a.g) w.message(6, encodeGraph(a.g));
  w.packedFloat(7, a.floats);
  w.packedInt64(8, a.ints);
  for (const s of a.strings) w.bytes(9, s);
  for (const t of a.tensors) w.message(10, encodeTensor(t));
  for (const g of a.graphs) w.message(11, encodeGraph(g));
  w.int(20, a.type);
  unknowns(w, a.unknown);
  return w;
}

function encodeNode(n: NodeProto): Writer {
  const w = new Writer();
  for (const s of n.input) w.string(1, s);
  for (const s of n.output) w.string(2, s);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attribute) w.message(5, encodeAttribute(a));
  w.string(7, n.domain);
  unknowns(w, n.unknown);
  return w;
}

function encodeValueInfo(v: ValueInfoProto): Writer {
  const w = new Writer();
  w.string(1, v.name);
  w.bytes(2, v.typeRaw);
  unknowns(w, v.unknown);
  return w;
}

/** Encodes a GraphProto. */
export function encodeGraph(g: GraphProto): Writer {
  const w = new Writer();
  for (const n of g.node) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializer) w.message(5, encodeTensor(t));
  for (const v of g.input) w.message(11, encodeValueInfo(v));
  for (const v of g.output) w.message(12, encodeValueInfo(v));
  for (const v of g.valueInfo) w.message(13, encodeValueInfo(v));
  unknowns(w, g.unknown);
  return w;
}

/** Largest serialized protobuf message (2 GiB − 1); bigger models need external data. */
export const MAX_PROTOBUF_BYTES = 2 ** 31 - 1;

/**
 * Serializes a ModelProto. `label` (e.g. the model's path) names the model in errors.
 * @throws Error when the result would exceed protobuf's 2 GiB limit (nothing is allocated for it).
 */
export function encodeModel(m: ModelProto, label?: string): Uint8Array {
  return modelWriter(m, label).finish();
}

/**
 * The model's serialization as pieces (large tensor payloads are the tensors' own views, not copies),
 * for writing to a file without one contiguous buffer. Same size check as `encodeModel`.
 */
export function encodeModelPieces(m: ModelProto, label?: string): { pieces: Uint8Array[]; length: number } {
  const w = modelWriter(m, label);
  return { pieces: w.pieces(), length: w.length };
}

function modelWriter(m: ModelProto, label?: string): Writer {
  const w = new Writer();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  if (m.graph) w.message(7, encodeGraph(m.graph));
  for (const o of m.opsetImport) {
    const ow = new Writer();
    ow.string(1, o.domain);
    ow.int(2, o.version);
    unknowns(ow, o.unknown);
    w.message(8, ow);
  }
  unknowns(w, m.unknown);
  if (w.length > MAX_PROTOBUF_BYTES) {
    const name = label ?? (m.graph?.name ? `model '${m.graph.name}'` : 'model');
    throw new Error(`${name}: serialized size ${w.length} bytes exceeds protobuf's 2 GiB limit; it must be written with external data`);
  }
  return w;
}

/** Builds the bytes of a TypeProto for a tensor of `elemType` with the given dims (undefined = unknown shape). */
export function tensorTypeBytes(elemType: number, dims?: (number | string)[]): Uint8Array {
  const tt = new Writer();
  tt.int(1, elemType);
  if (dims) {
    const sh = new Writer();
    for (const d of dims) {
      const dw = new Writer();
      if (typeof d === 'number') dw.int(1, d);
      else dw.string(2, d);
      sh.message(1, dw);
    }
    tt.message(2, sh);
  }
  const tp = new Writer();
  tp.message(1, tt);
  return tp.finish();
}
