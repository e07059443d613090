/**
 * The activations carried between blocks, one tensor per (name, batch): in RAM up to a byte budget,
 * beyond it in files under a private folder (`lowbit-cache-XXXXXX`) made inside the cache folder.
 * `close()` removes that folder with everything in it; the streamed job calls it on success, error
 * and cancel alike. An unwritable folder or a full disk is an error naming the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

type Entry = { tensor: ort.Tensor; bytes: number } | { file: string; type: ort.Tensor.Type; dims: readonly number[]; bytes: number };

export class ActivationCache {
  private readonly entries = new Map<string, Map<number, Entry>>();
  private dir?: string;
  private files = 0;
  /** Bytes held in RAM now, and the most held at once. */
  ramBytes = 0;
  peakRamBytes = 0;
  /** Bytes written to disk in all (files are deleted when their tensor is dropped). */
  diskBytesWritten = 0;
  diskBytes = 0;
  peakDiskBytes = 0;

  /** `folder`: where the private cache folder is made (created on first spill); `ramBudget` in bytes. */
  constructor(
    private readonly folder: string,
    private readonly ramBudget: number,
  ) {}

  /** Makes the private folder now (the job calls this up front, so an unwritable folder fails before any work). */
  open(): string {
    if (this.dir) return this.dir;
    try {
      this.dir = mkdtempSync(join(this.folder, 'lowbit-cache-'));
    } catch (e) {
      throw new Error(`activation cache: cannot create a folder in ${this.folder}: ${(e as Error).message}`);
    }
    return this.dir;
  }

  /** Stores batch `batch` of tensor `name` (in RAM while the budget allows, else on disk). */
  async put(name: string, batch: number, tensor: ort.Tensor): Promise<void> {
    const data = tensor.data as ArrayBufferView;
    const bytes = data.byteLength;
    let byBatch = this.entries.get(name);
    if (!byBatch) this.entries.set(name, (byBatch = new Map()));
    if (byBatch.has(batch)) throw new Error(`activation cache: ${name} batch ${batch} stored twice`);
    if (this.ramBytes + bytes <= this.ramBudget) {
      byBatch.set(batch, { tensor, bytes });
      this.ramBytes += bytes;
      this.peakRamBytes = Math.max(this.peakRamBytes, this.ramBytes);
      return;
    }
    const file = join(this.open(), `${this.files++}.bin`);
    try {
      await writeFile(file, new Uint8Array(data.buffer, data.byteOffset, bytes));
    } catch (e) {
      await rm(file, { force: true });
      throw new Error(`activation cache: writing ${bytes} bytes of ${name} to ${this.dir} failed: ${(e as Error).message}`);
    }
    byBatch.set(batch, { file, type: tensor.type, dims: tensor.dims, bytes });
    this.diskBytesWritten += bytes;
    this.diskBytes += bytes;
    this.peakDiskBytes = Math.max(this.peakDiskBytes, this.diskBytes);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The element type of a cached tensor (from its first batch). */
  type(name: string): ort.Tensor.Type | undefined {
    const e = this.entries.get(name)?.values().next().value as Entry | undefined;
    return e && ('tensor' in e ? e.tensor.type : e.type);
  }

  /** Batch `batch` of `name`. */
  async get(name: string, batch: number): Promise<ort.Tensor> {
    const e = this.entries.get(name)?.get(batch);
    if (!e) throw new Error(`activation cache: ${name} batch ${batch} is not cached`);
    if ('tensor' in e) return e.tensor;
    let buf: Buffer;
    try {
      buf = await readFile(e.file);
    } catch (err) {
      throw new Error(`activation cache: reading ${name} from ${e.file} failed: ${(err as Error).message}`);
    }
    return new ort.Tensor(e.type as 'float32', typedView(e.type, buf) as Float32Array, e.dims);
  }

  /** Forgets every batch of `name` (deleting its files). */
  async drop(name: string): Promise<void> {
    const byBatch = this.entries.get(name);
    if (!byBatch) return;
    this.entries.delete(name);
    for (const e of byBatch.values()) {
      if ('tensor' in e) this.ramBytes -= e.bytes;
      else {
        this.diskBytes -= e.bytes;
        await rm(e.file, { force: true });
      }
    }
  }

  /** Removes everything, the private folder included. Safe to call twice. */
  close(): void {
    this.entries.clear();
    this.ramBytes = 0;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/** A typed view of `buf` for an onnxruntime tensor type (copied when unaligned). */
function typedView(type: ort.Tensor.Type, buf: Buffer): ArrayBufferView {
  const ctors: Record<string, { new (b: ArrayBuffer, o: number, n: number): ArrayBufferView; BYTES_PER_ELEMENT: number }> = {
    float32: Float32Array,
    float16: Uint16Array,
    int64: BigInt64Array,
    int32: Int32Array,
    int8: Int8Array,
    uint8: Uint8Array,
    bool: Uint8Array,
    float64: Float64Array,
    int16: Int16Array,
    uint16: Uint16Array,
    uint32: Uint32Array,
    uint64: BigUint64Array,
  } as never;
  const C = ctors[type];
  if (!C) throw new Error(`activation cache: tensors of type ${type} cannot be cached`);
  const bytes = buf.byteOffset % C.BYTES_PER_ELEMENT ? Uint8Array.from(buf) : buf;
  return new C(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / C.BYTES_PER_ELEMENT);
}
