/**
 * LSP framing on a byte stream, strict and never silent: `Content-Length: N\r\n…\r\n\r\n` then N
 * bytes of UTF-8 JSON. A malformed header (missing, non-numeric or huge Content-Length, a header block
 * that never ends) gets a JSON-RPC error reply (-32700, id null) and the reader resynchronizes at the
 * next `Content-Length:` line; a body that is not UTF-8 or not JSON gets -32700, one that is JSON
 * but not a JSON-RPC message gets -32600 (with its id when it has one). Each is also logged on stderr.
 */
import { AbstractMessageReader, type DataCallback, type Disposable, type Message, type MessageReader } from 'vscode-languageserver/node';

/** Largest body accepted (a didOpen of a 2 MB recipe is far below). */
export const MAX_BODY_BYTES = 256 * 2 ** 20;
/** Longest header block before it is declared malformed. */
export const MAX_HEADER_BYTES = 8 * 1024;

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

/** An error reply the reader asks to send (id null unless the message had one). */
export interface FrameError {
  code: number;
  message: string;
  id: number | string | null;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /content-length:/i;
const HEADER_NAME = 'content-length:';

export class FrameReader extends AbstractMessageReader implements MessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  private bodyLength = -1;
  private callback?: DataCallback;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly reply: (e: FrameError) => void,
    private readonly log: (line: string) => void = (l) => process.stderr.write(`lowbit lsp: ${l}\n`),
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (d: Buffer | string) => this.onData(typeof d === 'string' ? Buffer.from(d) : d);
    const onEnd = () => {
      if (this.buffer.length || this.bodyLength >= 0)
        this.log(`input closed in the middle of a message (${this.buffer.length} bytes unread)`);
      this.fireClose();
    };
    const onError = (e: Error) => this.fireError(e);
    this.input.on('data', onData);
    this.input.on('end', onEnd);
    this.input.on('error', onError);
    return {
      dispose: () => {
        this.input.off('data', onData);
        this.input.off('end', onEnd);
        this.input.off('error', onError);
      },
    };
  }

  private fail(e: FrameError): void {
    this.log(`${e.code === PARSE_ERROR ? 'parse error' : 'invalid request'}: ${e.message}`);
    this.reply(e);
  }

  /** Drops bytes before the next `Content-Length:` header line at or after `from` (all but a possible partial one when none). */
  private resync(from: number): void {
    const text = this.buffer.toString('latin1', from);
    const m = CONTENT_LENGTH.exec(text);
    if (m) this.buffer = this.buffer.subarray(from + m.index);
    else {
      // Keep only a tail that may be the start of the next header name.
      let keep = Math.min(HEADER_NAME.length - 1, text.length);
      while (keep > 0 && !HEADER_NAME.startsWith(text.slice(text.length - keep).toLowerCase())) keep--;
      this.buffer = this.buffer.subarray(this.buffer.length - keep);
    }
    this.bodyLength = -1;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (;;) {
      if (this.bodyLength < 0) {
        // Blank lines between frames are tolerated.
        let skip = 0;
        while (skip < this.buffer.length && (this.buffer[skip] === 0x0d || this.buffer[skip] === 0x0a)) skip++;
        if (skip) this.buffer = this.buffer.subarray(skip);
        const end = this.buffer.indexOf(HEADER_END);
        if (end < 0) {
          if (this.buffer.length > MAX_HEADER_BYTES) {
            this.fail({ code: PARSE_ERROR, id: null, message: `malformed frame: no end of headers within ${MAX_HEADER_BYTES} bytes` });
            this.resync(1);
            continue;
          }
          return;
        }
        const header = this.buffer.subarray(0, end).toString('latin1');
        this.buffer = this.buffer.subarray(end + HEADER_END.length);
        const length = this.contentLength(header);
        if (typeof length === 'string') {
          this.fail({ code: PARSE_ERROR, id: null, message: `malformed frame header: ${length}` });
          // The body length is unknown: continue at the next header.
          this.resync(0);
          continue;
        }
        this.bodyLength = length;
      }
      if (this.buffer.length < this.bodyLength) return;
      const body = this.buffer.subarray(0, this.bodyLength);
      this.buffer = this.buffer.subarray(this.bodyLength);
      this.bodyLength = -1;
      this.deliver(body);
    }
  }

  /** The Content-Length of a header block, or why it is malformed. */
  private contentLength(header: string): number | string {
    let length: number | undefined;
    for (const line of header.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) return `header line ${JSON.stringify(line.slice(0, 80))} is not \`Name: value\``;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,12}$/.test(value)) return `Content-Length ${JSON.stringify(value.slice(0, 40))} is not a number`;
        length = Number(value);
        if (length > MAX_BODY_BYTES) return `Content-Length ${length} is over the ${MAX_BODY_BYTES}-byte limit`;
      } else if (name === 'content-type' && /charset=/i.test(value) && !/charset=("?)utf-?8\1/i.test(value)) {
        return `Content-Type ${JSON.stringify(value.slice(0, 80))}: only utf-8 is supported`;
      }
    }
    return length ?? 'no Content-Length header';
  }

  private deliver(body: Buffer): void {
    let text: string;
    try {
      text = this.decoder.decode(body);
    } catch {
      this.fail({ code: PARSE_ERROR, id: null, message: 'message body is not valid UTF-8' });
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      this.fail({ code: PARSE_ERROR, id: null, message: `message body is not JSON: ${(e as Error).message}` });
      return;
    }
    const o = msg as Record<string, unknown>;
    const id = o && typeof o === 'object' && (typeof o.id === 'number' || typeof o.id === 'string') ? o.id : null;
    if (!o || typeof o !== 'object' || Array.isArray(o)) {
      this.fail({
        code: INVALID_REQUEST,
        id: null,
        message: `a JSON-RPC message must be an object (got ${Array.isArray(o) ? 'an array' : o === null ? 'null' : typeof o})`,
      });
      return;
    }
    if (o.jsonrpc !== '2.0') {
      this.fail({ code: INVALID_REQUEST, id, message: '`jsonrpc` must be "2.0"' });
      return;
    }
    const isRequest = typeof o.method === 'string';
    const isResponse = !('method' in o) && ('result' in o || 'error' in o) && 'id' in o;
    if (!isRequest && !isResponse) {
      this.fail({ code: INVALID_REQUEST, id, message: 'not a request, notification or response (`method` must be a string)' });
      return;
    }
    if ('id' in o && o.id !== null && typeof o.id !== 'number' && typeof o.id !== 'string') {
      this.fail({ code: INVALID_REQUEST, id: null, message: '`id` must be a number or a string' });
      return;
    }
    this.callback?.(o as unknown as Message);
  }
}
