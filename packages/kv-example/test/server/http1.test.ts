import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Server, type Http1Request } from '../../src/server/http1.js';

let server: Http1Server;
let port = 0;
const seen: Http1Request[] = [];

beforeAll(async () => {
  server = new Http1Server(
    async (req) => {
      seen.push(req);
      if (req.target === '/slow') await new Promise((r) => setTimeout(r, 50));
      if (req.target === '/throw') throw new Error('handler broke');
      return {
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ target: req.target, body: req.body.toString('utf8') }),
      };
    },
    { maxHeaderBytes: 1024, maxBodyBytes: 4096, idleTimeoutMs: 2000 },
  );
  await server.listen(0, '127.0.0.1');
  port = server.address()?.port ?? 0;
});
afterAll(() => server.close());

/** Writes `parts` on one connection and collects what comes back until the server closes it or `ms` pass. */
async function exchange(parts: (string | Buffer)[], ms = 300): Promise<{ text: string; closed: boolean }> {
  const s = net.connect({ host: '127.0.0.1', port });
  const got: Buffer[] = [];
  let closed = false;
  s.on('data', (d: Buffer) => got.push(d));
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const p of parts) s.write(p);
  await new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    s.once('close', () => {
      closed = true;
      clearTimeout(t);
      r();
    });
  });
  s.destroy();
  return { text: Buffer.concat(got).toString('latin1'), closed };
}

const statuses = (text: string): number[] =>
  [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

describe('Http1Server', () => {
  it('keeps a connection alive across requests and answers pipelined ones in order', async () => {
    const { text, closed } = await exchange([
      'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nPUT /fast HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
    ]);
    expect(closed).toBe(false);
    expect(statuses(text)).toEqual([200, 200]);
    // The slow one first, although the second finished its work sooner.
    expect(text.indexOf('"/slow"')).toBeLessThan(text.indexOf('"/fast"'));
    expect(text).toContain('"body":"hello"');
  });

  it('decodes chunked bodies (with extensions and trailers) and answers Expect: 100-continue first', async () => {
    const { text } = await exchange([
      'PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n',
      '3;ext=1\r\nabc\r\n',
      '4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n',
    ]);
    expect(statuses(text)).toEqual([100, 200]);
    expect(text).toContain('"body":"abcdefg"');
  });

  it('closes after answering an HTTP/1.0 request, or one that asks for close', async () => {
    for (const req of ['GET /a HTTP/1.0\r\n\r\n', 'GET /a HTTP/1.1\r\nConnection: close\r\n\r\n']) {
      const { text, closed } = await exchange([req]);
      expect(statuses(text)).toEqual([200]);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(closed).toBe(true);
    }
  });

  it('refuses what it cannot serve with a status and closes: smuggling, bad framing, limits', async () => {
    const cases: [string, number, string][] = [
      ['PUT /a HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc', 400, 'BAD_REQUEST'],
      ['PUT /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 501, 'INTERNAL'],
      ['PUT /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n', 400, 'BAD_REQUEST'],
      ['PUT /a HTTP/1.1\r\nContent-Length: 99999\r\n\r\n', 413, 'BODY_TOO_LARGE'],
      ['PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'BAD_REQUEST'],
      ['PUT /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n', 413, 'BODY_TOO_LARGE'],
      ['GET /a HTTP/1.1\r\nX: ' + 'y'.repeat(2000) + '\r\n\r\n', 431, 'HEADERS_TOO_LARGE'],
      ['GET /a HTTP/2.0\r\n\r\n', 400, 'BAD_REQUEST'],
      ['get /a HTTP/1.1\r\n\r\n', 400, 'BAD_REQUEST'],
      ['GET /a HTTP/1.1\r\n folded: header\r\n\r\n', 400, 'BAD_REQUEST'],
      ['GET /a HTTP/1.1\r\nNo colon here\r\n\r\n', 400, 'BAD_REQUEST'],
    ];
    for (const [req, status, code] of cases) {
      const { text, closed } = await exchange([req]);
      expect(statuses(text), req.slice(0, 60)).toEqual([status]);
      expect(text).toContain(`"code":"${code}"`);
      expect(closed, req.slice(0, 60)).toBe(true);
    }
  });

  it('answers 500 when the handler throws, and keeps serving the connection', async () => {
    const { text, closed } = await exchange(['GET /throw HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n']);
    expect(statuses(text)).toEqual([500, 200]);
    expect(text).toContain('handler broke');
    expect(closed).toBe(false);
  });

  it('survives hostile bytes: every connection is answered or closed, and the server keeps serving (fuzz)', async () => {
    const valid = 'PUT /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nok';
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b)),
          // Valid requests with a random cut and random bytes spliced in.
          fc
            .tuple(fc.nat(valid.length), fc.uint8Array({ maxLength: 64 }))
            .map(([cut, junk]) => Buffer.concat([Buffer.from(valid.slice(0, cut)), Buffer.from(junk)])),
        ),
        async (bytes) => {
          const { text } = await exchange([bytes], 40);
          for (const s of statuses(text)) expect([100, 200, 400, 413, 431, 501]).toContain(s);
        },
      ),
      { numRuns: 100 },
    );
    const { text } = await exchange([valid]);
    expect(statuses(text)).toEqual([200]);
  });
});
