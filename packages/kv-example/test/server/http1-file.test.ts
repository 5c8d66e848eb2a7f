// Http1Server's file answers (what GET /backup streams): the bytes of the file after a Content-Length head, then a
// close; `finished` tells, once, whether the whole file went out.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Server } from '../../src/server/http1.js';

// Larger than what the kernel's loopback socket buffers can hold, so a client that stops reading stalls the send.
const SIZE = 32 * 1024 * 1024;
let dir: string;
let file: string;
let content: Buffer;
let server: Http1Server;
let port = 0;
let onFinished: (err: Error | undefined) => void = () => undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-kv-http1-file-'));
  file = join(dir, 'data.bin');
  content = randomBytes(SIZE);
  await writeFile(file, content);
  server = new Http1Server(async () => ({
    status: 200,
    contentType: 'application/octet-stream',
    body: '',
    file: { path: file, size: SIZE, finished: (err) => onFinished(err) },
  }));
  await server.listen(0, '127.0.0.1');
  port = server.address()?.port ?? 0;
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function finishedOnce(): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let calls = 0;
    onFinished = (err) => {
      calls++;
      if (calls === 1) resolve(err);
      else throw new Error('finished called twice');
    };
  });
}

describe('Http1Server file answers', () => {
  it('streams the whole file after its head, closes, and serves no request sent after it', async () => {
    const finished = finishedOnce();
    const s = net.connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    const closed = new Promise<void>((r) => s.once('close', () => r()));
    s.write('GET /backup HTTP/1.1\r\nHost: x\r\n\r\nGET /again HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    const all = Buffer.concat(got);
    const headEnd = all.indexOf('\r\n\r\n');
    const head = all.subarray(0, headEnd).toString('latin1');
    expect(head).toContain('HTTP/1.1 200 OK');
    expect(head).toContain(`content-length: ${SIZE}`);
    expect(head).toContain('connection: close');
    const body = all.subarray(headEnd + 4);
    expect(body.length).toBe(SIZE); // and nothing after it: the second request got no answer
    expect(body.equals(content)).toBe(true);
    expect(await finished).toBeUndefined();
  });

  it('tells `finished` of a client that goes away mid-file', async () => {
    const finished = finishedOnce();
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('data', () => {
      s.pause(); // reads no more: the server's send stalls with most of the file unsent
      setImmediate(() => s.destroy());
    });
    s.write('GET /backup HTTP/1.1\r\nHost: x\r\n\r\n');
    const err = await finished;
    expect(err?.message).toContain('closed before the file was sent');
  });
});
