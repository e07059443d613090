/**
 * The server on a hostile byte stream (issue 17): malformed frames and bodies are answered with a
 * JSON-RPC error (never silence), the server keeps serving afterwards, and a closed stdin ends it
 * with a clear log line. Raw bytes are written to a real `dist/server.js --stdio` process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { serverJs } from './lspClient';

interface Reply {
  id: number | string | null;
  error?: { code: number; message: string };
  result?: unknown;
}

/** A server process and a parser of its framed replies. */
function server() {
  const child = spawn(process.execPath, [serverJs, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = Buffer.alloc(0);
  let stderr = '';
  const replies: Reply[] = [];
  const waiters: (() => void)[] = [];
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdout.on('data', (d: Buffer) => {
    out = Buffer.concat([out, d]);
    for (;;) {
      const end = out.indexOf('\r\n\r\n');
      if (end < 0) break;
      const len = Number(/Content-Length: (\d+)/i.exec(out.subarray(0, end).toString())![1]);
      if (out.length < end + 4 + len) break;
      const msg = JSON.parse(out.subarray(end + 4, end + 4 + len).toString()) as Reply & { method?: string };
      out = out.subarray(end + 4 + len);
      if (!msg.method) replies.push(msg);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const next = async (n: number): Promise<Reply[]> => {
    const deadline = Date.now() + 30_000;
    while (replies.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} replies; got ${JSON.stringify(replies)}; stderr: ${stderr}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return replies.splice(0, n);
  };
  const send = (bytes: string | Buffer) => child.stdin.write(bytes);
  const frame = (body: string | Buffer) =>
    Buffer.concat([Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`), Buffer.from(body)]);
  const request = (id: number, method: string, params: unknown = {}) => frame(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  return { child, next, send, frame, request, stderr: () => stderr };
}

test('malformed frames and bodies get JSON-RPC errors; the server keeps answering', async () => {
  const s = server();
  try {
    s.send(s.request(1, 'initialize', { processId: null, rootUri: null, capabilities: {} }));
    assert.ok((await s.next(1))[0].result, 'initialize answered');

    s.send('Content-Length: abc\r\n\r\n{}');
    let [r] = await s.next(1);
    assert.equal(r.id, null);
    assert.equal(r.error?.code, -32700);
    assert.match(r.error!.message, /Content-Length "abc" is not a number/);

    s.send(s.frame('{"jsonrpc": "2.0", "id": 5, "method": '));
    [r] = await s.next(1);
    assert.equal(r.error?.code, -32700);
    assert.match(r.error!.message, /not JSON/);

    s.send(s.frame(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
    [r] = await s.next(1);
    assert.equal(r.error?.code, -32700);
    assert.match(r.error!.message, /not valid UTF-8/);

    s.send(s.frame('[1, 2]'));
    s.send(s.frame('{"jsonrpc": "2.0", "id": 7}'));
    s.send(s.frame('{"jsonrpc": "1.0", "id": 8, "method": "x"}'));
    const three = await s.next(3);
    assert.deepEqual(
      three.map((x) => [x.id, x.error?.code]),
      [
        [null, -32600],
        [7, -32600],
        [8, -32600],
      ],
    );

    s.send('Content-Length: 99999999999999\r\n\r\n');
    [r] = await s.next(1);
    assert.match(r.error!.message, /not a number|over the/);

    // Garbage with no header end at all: an error after the header limit, then a good frame still works.
    s.send(Buffer.alloc(9000, 0x41));
    [r] = await s.next(1);
    assert.match(r.error!.message, /no end of headers/);
    s.send('\r\n' + s.request(2, 'textDocument/documentSymbol', { textDocument: { uri: 'file:///none.lowbit.yaml' } }).toString());
    [r] = await s.next(1);
    assert.equal(r.id, 2);
    assert.equal(r.error, undefined);

    // An unknown method is the library's MethodNotFound, not silence.
    s.send(s.request(3, 'no/such/method'));
    [r] = await s.next(1);
    assert.equal(r.error?.code, -32601);
    assert.match(s.stderr(), /parse error: malformed frame header/);
    assert.equal(s.child.exitCode, null);
  } finally {
    s.child.kill();
  }
});

test('stdin closed in the middle of a frame: the server exits with a clear log line', async () => {
  const s = server();
  const exited = new Promise<number | null>((r) => s.child.on('exit', (code) => r(code)));
  s.send('Content-Length: 100\r\n\r\n{"jsonrpc"');
  s.child.stdin.end();
  assert.equal(await exited, 1);
  assert.match(s.stderr(), /input closed in the middle of a message|stdin closed without a shutdown request/);
});
