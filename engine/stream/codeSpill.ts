/**
 * The codes of finished blocks, moved to disk until the export (issue 11). A streamed job would
 * otherwise keep one byte per quantized weight in RAM from its block to the end (1 GB for a 1.1B
 * model). `spill(layer)` appends the layer's codes to one file in a private `lowbit-codes-XXXXXX`
 * folder and makes `q.codes` a getter that reads them back (one layer at a time, when the exporter packs
 * it or recomputes its dequant), so the export writes the same bytes. `close()` removes the folder; the
 * job calls it after the export, on success, error and cancel alike. An unwritable folder or a full
 * disk is an error naming the folder.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { QuantizedLayer } from '../quantize/quantizeLayers';

export class CodeSpill {
  private dir?: string;
  private fd?: number;
  private offset = 0;
  /** Bytes written (all spilled codes). */
  get bytes(): number {
    return this.offset;
  }

  constructor(private readonly folder: string) {}

  /** Makes the private folder and its file now (so an unwritable folder fails before any work). */
  open(): void {
    if (this.fd !== undefined) return;
    try {
      this.dir = mkdtempSync(join(this.folder, 'lowbit-codes-'));
      this.fd = openSync(join(this.dir, 'codes.bin'), 'w+');
    } catch (e) {
      this.close();
      throw new Error(`code spill: cannot create a file in ${this.folder}: ${(e as Error).message}`);
    }
  }

  /** Moves `layer.q.codes` (a Uint8Array) to disk; returns whether it did. */
  spill(layer: QuantizedLayer): boolean {
    const q = layer.q as { codes?: unknown } | undefined;
    if (!q || !(q.codes instanceof Uint8Array)) return false;
    this.open();
    const codes = q.codes;
    const at = this.offset,
      length = codes.length;
    try {
      for (let o = 0; o < length;) o += writeSync(this.fd!, codes, o, length - o, at + o);
    } catch (e) {
      throw new Error(`code spill: writing ${length} bytes of layer ${layer.layer}'s codes to ${this.dir} failed: ${(e as Error).message}`);
    }
    this.offset += length;
    Object.defineProperty(q, 'codes', { get: () => this.read(layer.layer, at, length), enumerable: true, configurable: true });
    return true;
  }

  /** The layer read last, kept: the exporter reads `q.codes[i]` element by element (one disk read per layer, not per element). */
  private last?: { at: number; codes: Uint8Array };

  private read(name: string, at: number, length: number): Uint8Array {
    if (this.fd === undefined) throw new Error(`code spill: layer ${name}'s codes were read after the spill was closed`);
    if (this.last?.at === at && this.last.codes.length === length) return this.last.codes;
    const out = new Uint8Array(length);
    for (let o = 0; o < length;) {
      const n = readSync(this.fd, out, o, length - o, at + o);
      if (n <= 0) throw new Error(`code spill: ${this.dir} ends before layer ${name}'s codes`);
      o += n;
    }
    this.last = { at, codes: out };
    return out;
  }

  /** Removes the folder (idempotent). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.last = undefined;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}
