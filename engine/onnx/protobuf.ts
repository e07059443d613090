/**
 * Minimal, bounded protobuf wire-format reader and writer (no protobufjs).
 * The reader never reads past its window, never allocates from an untrusted length before checking
 * it against the bytes that remain, and names the file and byte offset in every error.
 */

/** A malformed or hostile ONNX/protobuf input. The message names the file and what is wrong. */
export class OnnxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxFormatError';
  }
}

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const UTF8 = new TextDecoder('utf-8');
const UTF8_OUT = new TextEncoder();

/** Nesting limit for sub-messages (graphs inside attributes inside graphs…). */
export const MAX_DEPTH = 64;

/** A cursor over a window of a byte buffer. Sub-readers share the buffer (no copies). */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly file: string,
    start = 0,
    readonly end = buf.length,
    readonly depth = 0,
    readonly what = 'ModelProto',
  ) {
    this.pos = start;
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  fail(msg: string): never {
    throw new OnnxFormatError(`${this.file}: corrupt ONNX protobuf in ${this.what} at byte ${this.pos}: ${msg}`);
  }

  /** Reads a varint as a JS number (exact up to 2^53; larger values are rejected). */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (i === 9 && b > 1) this.fail('varint overflows 64 bits');
        return result;
      }
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** Reads an int64 varint, interpreting two's complement (negative values are 10 bytes). */
  int64(): number {
    const start = this.pos;
    const v = this.varint();
    if (this.pos - start < 8) return v;
    let x = 0n;
    for (let i = this.pos - 1; i >= start; i--) x = (x << 7n) | BigInt(this.buf[i] & 0x7f);
    const signed = BigInt.asIntN(64, x);
    if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER))
      this.fail(`integer ${signed} is outside ±2^53`);
    return Number(signed);
  }

  tag(): { field: number; wire: number } {
    const t = this.varint();
    const field = Math.floor(t / 8);
    const wire = t & 7;
    if (field === 0) this.fail('field number 0');
    return { field, wire };
  }

  /** Reads a length prefix and returns the [start, end) window it covers, advancing past it. */
  lenWindow(): [number, number] {
    const len = this.varint();
    if (len > this.end - this.pos) this.fail(`length ${len} exceeds the ${this.end - this.pos} bytes that remain`);
    const s = this.pos;
    this.pos += len;
    return [s, s + len];
  }

  bytes(): Uint8Array {
    const [s, e] = this.lenWindow();
    return this.buf.subarray(s, e);
  }

  string(): string {
    return UTF8.decode(this.bytes());
  }

  sub(what: string): Reader {
    const [s, e] = this.lenWindow();
    return new Reader(this.buf, this.file, s, e, this.depth + 1, what);
  }

  float(): number {
    if (this.end - this.pos < 4) this.fail('truncated float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** Skips a field's payload and returns the raw bytes of the whole field (tag included). */
  skip(wire: number, tagStart: number): Uint8Array {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        break;
      case WIRE_I64:
        if (this.end - this.pos < 8) this.fail('truncated fixed64');
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.lenWindow();
        break;
      case WIRE_I32:
        if (this.end - this.pos < 4) this.fail('truncated fixed32');
        this.pos += 4;
        break;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
    return this.buf.subarray(tagStart, this.pos);
  }

  /** Repeated int64 (packed or not). */
  int64s(wire: number, out: number[]): void {
    if (wire === WIRE_LEN) {
      const r = this.sub('packed int64');
      while (!r.done) out.push(r.int64());
    } else if (wire === WIRE_VARINT) out.push(this.int64());
    else this.fail(`wire type ${wire} for an int64 field`);
  }

  /** Repeated float (packed or not). */
  floats(wire: number, out: number[]): void {
    if (wire === WIRE_LEN) {
      const r = this.sub('packed float');
      if ((r.end - r.pos) % 4) this.fail('packed float length not a multiple of 4');
      while (!r.done) out.push(r.float());
    } else if (wire === WIRE_I32) out.push(this.float());
    else this.fail(`wire type ${wire} for a float field`);
  }

  expect(wire: number, want: number, field: number): void {
    if (wire !== want) this.fail(`field ${field} has wire type ${wire}, expected ${want}`);
  }
}

/** Appends encoded pieces without copying large payloads until `finish()`. */
export class Writer {
  private parts: Uint8Array[] = [];
  private scratch: number[] = [];
  length = 0;

  private flush(): void {
    if (this.scratch.length) {
      this.parts.push(Uint8Array.from(this.scratch));
      this.scratch = [];
    }
  }

  raw(b: Uint8Array): void {
    if (b.length < 64) {
      for (const x of b) this.scratch.push(x);
    } else {
      this.flush();
      this.parts.push(b);
    }
    this.length += b.length;
  }

  varint(v: number): void {
    if (v < 0) {
      this.int64Neg(v);
      return;
    }
    do {
      let b = v % 128;
      v = Math.floor(v / 128);
      if (v > 0) b |= 0x80;
      this.scratch.push(b);
      this.length++;
    } while (v > 0);
  }

  private int64Neg(v: number): void {
    let x = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 10; i++) {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      this.scratch.push(b);
      this.length++;
      if (x === 0n) break;
    }
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, v: number | undefined): void {
    if (v === undefined) return;
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  bytes(field: number, b: Uint8Array | undefined): void {
    if (b === undefined) return;
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.raw(b);
  }

  string(field: number, s: string | undefined): void {
    if (s === undefined) return;
    this.bytes(field, UTF8_OUT.encode(s));
  }

  float(field: number, v: number | undefined): void {
    if (v === undefined) return;
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.raw(b);
  }

  message(field: number, w: Writer): void {
    this.tag(field, WIRE_LEN);
    this.varint(w.length);
    this.flush();
    w.flush();
    this.parts.push(...w.parts);
    this.length += w.length;
  }

  packedInt64(field: number, vs: number[]): void {
    if (!vs.length) return;
    const w = new Writer();
    for (const v of vs) w.varint(v);
    this.message(field, w);
  }

  packedFloat(field: number, vs: number[]): void {
    if (!vs.length) return;
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    this.bytes(field, b);
  }

  /** The encoded bytes as the pieces they were appended as (large payloads are not copied). */
  pieces(): Uint8Array[] {
    this.flush();
    return this.parts;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
