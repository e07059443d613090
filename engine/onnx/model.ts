/**
 * An ONNX model in memory: decoded once from the file buffer (weights stay views into it), with
 * layer discovery, weight access, calibration outputs and serialization.
 */
import { realpathSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ModelSummary } from '../../protocol/model';
import { ConstResolver } from './constants';
import { leftAloneTensors } from './leftAlone';
import { convTransposeLayout, convTransposeToMatrix, discoverLayers, toLayerInfo, type LayerRecord } from './layers';
import {
  decodeModel,
  encodeModel,
  MAX_PROTOBUF_BYTES,
  tensorTypeBytes,
  type ModelProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnxProto';
import { OnnxFormatError } from './protobuf';
import {
  DT,
  dtypeName,
  externalInfo,
  memoryAvailable,
  numel,
  readBudget,
  resolveExternalPath,
  tensorBytes,
  readExternalRows,
  checkExternalBudget,
  halfToFloat,
  type TensorSource,
} from './tensor';

/** Bytes per element of fixed-size types (for inlining external data). */
const ELEM_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

/** Chunk in which a transposed external weight is read (transposedFromFile). */
const WEIGHT_CHUNK_BYTES = 16 * 2 ** 20;

/** Largest model file read into memory (protobuf itself is limited to 2 GiB). */
const MAX_FILE_BYTES = 2 ** 31 - 1;

/** Bytes per element of a fixed-size element type (undefined for strings and unknown types). */
export function elemBytes(dataType: number): number | undefined {
  return ELEM_BYTES[dataType];
}

/**
 * `proto` with every external initializer read into raw_data (the same object when there is none).
 * Refuses up front, before reading anything, a result larger than one protobuf (2 GiB, counting
 * `baseBytes` for the rest of the model) or than the memory available; the error names the model.
 */
export function inlineExternalData(proto: ModelProto, src: TensorSource, baseBytes: number): ModelProto {
  const g = proto.graph!;
  if (!g.initializer.some((t) => t.dataLocation === 1)) return proto;
  let external = 0;
  for (const t of g.initializer)
    if (t.dataLocation === 1) external += numel(t.dims, `${src.file}: tensor '${t.name}'`) * (ELEM_BYTES[t.dataType] ?? 0);
  if (baseBytes + external > MAX_PROTOBUF_BYTES)
    throw new OnnxFormatError(
      `${src.file}: with its ${external} bytes of external data the model is larger than one protobuf can be (2 GiB); it must stay external (write it with external data)`,
    );
  const avail = readBudget(src);
  if (external > avail)
    throw new OnnxFormatError(
      `${src.file}: inlining its ${external} bytes of external data needs more than the ${avail} bytes of memory available`,
    );
  const inline = (t: TensorProto): TensorProto => {
    const size = ELEM_BYTES[t.dataType];
    if (t.dataLocation !== 1 || !size) return t;
    return { ...t, rawData: tensorBytes(src, t, size), dataLocation: undefined, externalData: [] };
  };
  return { ...proto, graph: { ...g, initializer: g.initializer.map(inline) } };
}

/** A weight as the quantizer sees it: W [rows = out, cols = in], row-major. */
export interface LayerWeight {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** A loaded ONNX model. */
export class OnnxModel {
  readonly layers: LayerRecord[];
  readonly consts: ConstResolver;
  private readonly byName: Map<string, LayerRecord>;

  constructor(
    readonly proto: ModelProto,
    readonly path: string,
    readonly src: TensorSource,
    readonly fileBytes: number,
  ) {
    this.consts = new ConstResolver(proto.graph!, src);
    this.layers = discoverLayers(proto.graph!, this.consts);
    this.byName = new Map(this.layers.map((l) => [l.name, l]));
  }

  private inlined?: ModelProto;
  /** checkExternalData() passed (the proto does not change). */
  private externalChecked = false;

  get graph() {
    return this.proto.graph!;
  }

  /**
   * The model with every external tensor read into raw_data (cached): all of it in memory, and
   * limited to one protobuf (2 GiB). Sessions and exports keep external references instead
   * (`sessionBytes`, `withExtraOutputs`, `exportModelProto`).
   */
  inlinedProto(): ModelProto {
    return (this.inlined ??= inlineExternalData(this.proto, this.src, this.fileBytes));
  }

  /** True when some initializer's bytes live in an external file (resolved from `src.dir`). */
  get hasExternalData(): boolean {
    return this.graph.initializer.some((t) => t.dataLocation === 1);
  }

  /**
   * The real paths of the external data files the model reads (each checked as `checkExternalData`
   * does), so that a job never writes over one.
   * @throws OnnxFormatError naming the model and tensor when a location is refused.
   */
  externalDataFiles(): string[] {
    const files = new Set<string>();
    for (const t of this.graph.initializer)
      if (t.dataLocation === 1) files.add(resolveExternalPath(this.src, externalInfo(t).location, t.name));
    return [...files];
  }

  /**
   * The folder onnxruntime resolves the external-data locations of `sessionBytes()` and
   * `withExtraOutputs()` from (`openSession`'s `externalDataDir`): the source model's real folder,
   * or undefined when the model has no external data.
   */
  get externalDataDir(): string | undefined {
    return this.hasExternalData ? this.src.dir : undefined;
  }

  /**
   * Checks, before bytes that keep external references go to onnxruntime, that every location
   * resolves inside the model's folder (no absolute path, `..` or escaping symlink), as reading does.
   * @throws OnnxFormatError naming the model and tensor.
   */
  checkExternalData(): void {
    if (this.externalChecked) return;
    const seen = new Set<string>();
    for (const t of this.graph.initializer) {
      if (t.dataLocation !== 1) continue;
      const { location } = externalInfo(t);
      if (seen.has(location)) continue;
      resolveExternalPath(this.src, location, t.name);
      seen.add(location);
    }
    this.externalChecked = true;
  }

  /** The default-domain opset version. */
  get opset(): number {
    return this.proto.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  }

  /** A layer record by name; throws naming the model when unknown. */
  layer(name: string): LayerRecord {
    const l = this.byName.get(name);
    if (!l) throw new Error(`${this.path}: no layer named '${name}' (layers are named by their weight tensor)`);
    return l;
  }

  /** Summary for inspect, completion and hover. */
  summary(): ModelSummary {
    const io = (v: ValueInfoProto) => ({ name: v.name, dtype: dtypeName(v.type.elemType), dims: v.type.dims ?? [] });
    const inits = new Set(this.graph.initializer.map((t) => t.name));
    const layers = this.layers.map((l) => ({ ...toLayerInfo(l), opset: this.opset }));
    return {
      path: this.path,
      opset: this.opset,
      producer: [this.proto.producerName, this.proto.producerVersion].filter(Boolean).join(' '),
      inputs: this.graph.input.filter((v) => !inits.has(v.name)).map(io),
      outputs: this.graph.output.map(io),
      layers,
      // A tied table (Gather + head) is one tensor: counted once, with the table.
      totalParams: layers.reduce((a, l) => a + (l.tiedWith && !l.embedding ? 0 : l.params), 0),
      fileBytes: this.fileBytes,
      ...this.externalSummary(),
      leftAlone: leftAloneTensors(
        this.graph,
        this.layers,
        new Set(this.layers.filter((l) => l.quantizable && !l.embedding).map((l) => l.name)), // opt-in embedding tables stay float by default
        this.fileBytes,
      ),
    };
  }

  private externalSummary(): Pick<ModelSummary, 'externalFiles' | 'externalDataError'> {
    if (!this.hasExternalData) return {};
    try {
      return { externalFiles: this.externalDataFiles() };
    } catch (e) {
      return { externalDataError: (e as Error).message };
    }
  }

  /** W [out, in] row-major, float32 (a view when the stored layout already matches). */
  getWeight(name: string): LayerWeight {
    const l = this.layer(name);
    const [rows, cols] = l.shape;
    const direct = this.transposedFromFile(l, rows, cols);
    if (direct) return { data: direct, rows, cols };
    const { data, dims } = this.consts.value(l.ref);
    if (l.op === 'ConvTranspose') return { data: convTransposeToMatrix(data, convTransposeLayout(l)), rows, cols };
    const transposed = l.op === 'MatMul' || (l.op === 'Gemm' && !l.nodeRef.attribute.find((a) => a.name === 'transB')?.i);
    if (!transposed) return { data, rows, cols };
    if (dims.length !== 2) throw new Error(`${this.path}: layer '${name}' has a ${dims.length}-D weight`);
    const out = new Float32Array(rows * cols);
    // stored [in, out] → W [out, in]
    for (let i = 0; i < cols; i++) {
      const row = i * rows;
      for (let o = 0; o < rows; o++) out[o * cols + i] = data[row + o];
    }
    return { data: out, rows, cols };
  }

  /**
   * W [out, in] of a MatMul (or Gemm without transB) whose [in, out] weight lies in external data,
   * fp32 or fp16 with nothing between it and the node: read in chunks straight into W's layout, so the
   * stored copy is never in memory whole (issue 11: the LM head's is 262 MB at 32000×2048). Undefined
   * for every other weight.
   */
  private transposedFromFile(l: LayerRecord, rows: number, cols: number): Float32Array | undefined {
    const t = l.ref.stored;
    const transposed = l.op === 'MatMul' || (l.op === 'Gemm' && !l.nodeRef.attribute.find((a) => a.name === 'transB')?.i);
    if (!transposed || l.ref.chain.length || t.dataLocation !== 1 || t.dims.length !== 2) return undefined;
    if (t.dataType !== DT.FLOAT && t.dataType !== DT.FLOAT16) return undefined;
    if (t.dims[0] !== cols || t.dims[1] !== rows) return undefined;
    const size = t.dataType === DT.FLOAT ? 4 : 2;
    checkExternalBudget(this.src, t, rows * cols * size);
    const out = new Float32Array(rows * cols);
    readExternalRows(this.src, t, rows * cols * size, rows * size, WEIGHT_CHUNK_BYTES, (chunk, first) => {
      const n = chunk.length / (rows * size);
      if (size === 4) {
        const v = new Float32Array(chunk.buffer, chunk.byteOffset, n * rows);
        for (let k = 0; k < n; k++) {
          const i = first + k;
          for (let o = 0; o < rows; o++) out[o * cols + i] = v[k * rows + o];
        }
      } else {
        const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
        for (let k = 0; k < n; k++) {
          const i = first + k;
          for (let o = 0; o < rows; o++) out[o * cols + i] = halfToFloat(dv.getUint16((k * rows + o) * 2, true));
        }
      }
    });
    return out;
  }

  /** The activation tensor feeding a layer. */
  layerInput(name: string): string {
    return this.layer(name).input;
  }

  /** Element type of a tensor when the graph declares it (inputs, outputs, value_info), else undefined. */
  tensorElemType(name: string): number | undefined {
    const g = this.graph;
    for (const v of [...g.input, ...g.output, ...g.valueInfo]) if (v.name === name) return v.type.elemType;
    return undefined;
  }

  /**
   * The model serialized with `tensorNames` added as graph outputs (for calibration). New outputs are
   * declared as tensors of unknown shape; their element type comes from value_info or, for layer
   * inputs, from the layer's weight dtype. External weights stay references: open the bytes with
   * `externalDataDir` (a model without external data gives the same bytes as before).
   */
  withExtraOutputs(tensorNames: string[]): Uint8Array {
    const g = this.graph;
    const existing = new Set(g.output.map((o) => o.name));
    const produced = new Set<string>([...g.input.map((i) => i.name), ...g.node.flatMap((n) => n.output)]);
    const extra: ValueInfoProto[] = [];
    for (const name of new Set(tensorNames)) {
      if (existing.has(name)) continue;
      if (!produced.has(name)) throw new Error(`${this.path}: cannot output '${name}': no node or graph input produces it`);
      const layer = this.layers.find((l) => l.input === name);
      const elem = this.tensorElemType(name) ?? (layer?.dtype === 'float16' ? DT.FLOAT16 : DT.FLOAT);
      extra.push({ name, typeRaw: tensorTypeBytes(elem), type: { elemType: elem }, unknown: [] });
    }
    this.checkExternalData();
    return encodeModel({ ...this.proto, graph: { ...g, output: [...g.output, ...extra] } }, this.path);
  }

  /** The model serialized (external data inlined: all of it in memory, at most 2 GiB). */
  serialize(): Uint8Array {
    return encodeModel(this.inlinedProto(), this.path);
  }

  /**
   * The model serialized for an onnxruntime session: external weights stay references (open the
   * bytes with `externalDataDir`); without external data, the same bytes as `serialize()`.
   */
  sessionBytes(): Uint8Array {
    this.checkExternalData();
    return encodeModel(this.proto, this.path);
  }
}

function realDir(path: string): string {
  try {
    return dirname(realpathSync(path));
  } catch {
    return dirname(path);
  }
}

/** Parses model bytes; `path` locates external data and names errors; `maxBytes` as for `loadModel`. */
export function parseModel(bytes: Uint8Array, path: string, dir = realDir(path), maxBytes?: number): OnnxModel {
  const proto = decodeModel(bytes, path);
  return new OnnxModel(proto, path, { dir, file: path, maxBytes }, bytes.length);
}

/**
 * Reads and parses an ONNX file. Errors name the file and what is wrong. `maxBytes` caps what one read
 * (the file, one external tensor) may allocate; it defaults to the memory available.
 */
export async function loadModel(path: string, opts: { maxBytes?: number } = {}): Promise<OnnxModel> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new OnnxFormatError(`${path}: cannot read model: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new OnnxFormatError(`${path}: not a file`);
  if (st.size > MAX_FILE_BYTES)
    throw new OnnxFormatError(`${path}: ${st.size} bytes is larger than a protobuf can be (2 GiB); use external data`);
  if (st.size === 0) throw new OnnxFormatError(`${path}: empty file`);
  const avail = opts.maxBytes ?? memoryAvailable();
  if (st.size > avail)
    throw new OnnxFormatError(`${path}: ${st.size} bytes is more than the ${avail} bytes of memory available to load it`);
  const bytes = await readFile(path);
  const dir = dirname(await realpath(path));
  return parseModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), path, dir, opts.maxBytes);
}
