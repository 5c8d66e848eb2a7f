import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Server } from '../../src/server/http1.js';
import type { TlsRefusal } from '@x/raft/node';
import { makeTestPki, type TestPki } from '../../../../test-support/pki.js';

// Http1Server over TLS keeps what it does over TCP: keep-alive, the limits, and the lingering close that lets a
// client still sending an oversized body read the 413 (http1-linger.test.ts has the why). As there, the server runs
// in its own process (the built module), so its event loop does not interleave with the clients'.

const HTTP1 = fileURLToPath(new URL('../../dist/server/http1.js', import.meta.url));
const LIMIT = 4096;
const BODY = Buffer.alloc(2 * 1024 * 1024, 0x78);
const ROUNDS = 30;

let dir: string;
let pki: TestPki;
let server: ChildProcess;
let port = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-kv-http1-tls-'));
  pki = makeTestPki(dir);
  const script = `
    import { readFileSync } from 'node:fs';
    const { Http1Server } = await import(${JSON.stringify(HTTP1)});
    const server = new Http1Server(async (req) => ({ status: 200, contentType: 'application/json', body: JSON.stringify({ target: req.target }) }), {
      maxBodyBytes: ${LIMIT}, maxHeaderBytes: 1024, lingerMs: 1000, lingerBytes: ${8 * 1024 * 1024},
      tls: { cert: readFileSync(${JSON.stringify(pki.nodeCert)}), key: readFileSync(${JSON.stringify(pki.nodeKey)}) },
    });
    await server.listen(0, '127.0.0.1');
    process.stdout.write(server.address().port + '\\n');
    process.stdin.on('end', () => process.exit(0)).resume();
  `;
  server = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  port = await new Promise<number>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`the test server exited with ${code}`)));
    server.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
});
afterAll(async () => {
  server.stdin?.end();
  await rm(dir, { recursive: true, force: true });
});

function put(
  body: Buffer,
  agent: https.Agent | false = false,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `https://127.0.0.1:${port}/kv/a`,
      { method: 'PUT', agent, ca: readFileSync(pki.ca), headers },
      (res) => {
        const got: Buffer[] = [];
        res.on('data', (d: Buffer) => got.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(got).toString(), socket: res.socket }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function curlPut(body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const args = [
      '-sS',
      '--cacert',
      pki.ca,
      '-X',
      'PUT',
      '--data-binary',
      '@-',
      '-w',
      '\n%{http_code}',
      `https://127.0.0.1:${port}/kv/a`,
    ];
    const child = spawn('curl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(body);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited ${code}: ${err}`));
      const nl = out.lastIndexOf('\n');
      resolve({ status: Number(out.slice(nl + 1)), text: out.slice(0, nl) });
    });
  });
}

// tls.connect passes `allowHalfOpen` on to its socket; @types/node does not list it among the options.
const halfOpen = { allowHalfOpen: true } as tls.ConnectionOptions;

const errorCode = (text: string): string => (JSON.parse(text) as { error: { code: string } }).error.code;

describe('Http1Server over TLS', () => {
  it('keeps a TLS connection alive across requests', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await put(Buffer.from('{}'), agent);
      const b = await put(Buffer.from('{}'), agent);
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(b.socket).toBe(a.socket);
    } finally {
      agent.destroy();
    }
  });

  it(`an oversized body gets its 413 read by node:https and curl every time (${ROUNDS} rounds each)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const r = await put(BODY);
      expect(r.status, `node:https round ${i}`).toBe(413);
      expect(errorCode(r.text)).toBe('BODY_TOO_LARGE');
      const c = await curlPut(BODY);
      expect(c.status, `curl round ${i}`).toBe(413);
      expect(errorCode(c.text)).toBe('BODY_TOO_LARGE');
    }
  });

  it('lingers after the 413 over TLS too: keeps reading (and discarding) up to lingerBytes, then cuts the client off', async () => {
    // Half-open allowed: the client keeps sending after the server's close_notify, as a client mid-upload does.
    const endless = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca), ...halfOpen });
    endless.on('error', () => undefined);
    await new Promise<void>((r) => endless.once('secureConnect', () => r()));
    endless.write(`PUT /kv/a HTTP/1.1\r\nContent-Length: ${1024 * 1024 * 1024}\r\n\r\n`);
    let sent = 0;
    const chunk = Buffer.alloc(64 * 1024);
    const pump = (): void => {
      while (!endless.destroyed && !endless.writableEnded) {
        sent += chunk.length;
        if (!endless.write(chunk)) return;
      }
    };
    endless.on('drain', pump);
    pump();
    await new Promise<void>((r) => endless.once('close', () => r()));
    // The server read at least its linger budget (8 MiB) after answering, and not unboundedly more. (Whether this
    // client read the 413 before the cut is not asserted: the reset that ends it may discard what it had not read,
    // as over plain TCP; the clients above, which stop sending, always read it.)
    expect(sent).toBeGreaterThan(8 * 1024 * 1024 - 2 * 1024 * 1024);
    expect(sent).toBeLessThan(64 * 1024 * 1024);

    // A client that sends an oversized Content-Length and nothing more reads the 413, then the connection closes.
    const idle = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(pki.ca) });
    idle.on('error', () => undefined);
    let idleText = '';
    idle.on('data', (d: Buffer) => (idleText += d.toString('latin1')));
    await new Promise<void>((r) => idle.once('secureConnect', () => r()));
    idle.write(`PUT /kv/a HTTP/1.1\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`);
    await new Promise<void>((r) => idle.once('close', () => r()));
    expect(idleText.slice(0, 12)).toBe('HTTP/1.1 413');
  });

  it('oversized headers get 431, and a plain-TCP client gets no HTTP answer', async () => {
    const r = await put(Buffer.from('{}'), false, { x: 'y'.repeat(2000) });
    expect(r.status).toBe(431);
    expect(errorCode(r.text)).toBe('HEADERS_TOO_LARGE');
    const plain = await fetch(`http://127.0.0.1:${port}/`).then(
      (res) => res.status,
      (err: Error) => err.name,
    );
    expect(plain).toBe('TypeError'); // fetch failed: the server speaks only TLS
  });
});

describe('Http1Server with requestCert', () => {
  it('serves a client whose certificate chains to its CA, and refuses one without, telling onTlsRefused', async () => {
    const refused: TlsRefusal[] = [];
    const s = new Http1Server(async () => ({ status: 200, contentType: 'text/plain', body: 'ok' }), {
      tls: {
        cert: readFileSync(pki.nodeCert),
        key: readFileSync(pki.nodeKey),
        ca: readFileSync(pki.ca),
        requestCert: true,
      },
      onTlsRefused: (r) => refused.push(r),
    });
    await s.listen(0, '127.0.0.1');
    const p = s.address()?.port ?? 0;
    const get = (withCert: boolean): Promise<string> =>
      new Promise((resolve) => {
        const req = https.request(
          `https://127.0.0.1:${p}/`,
          {
            agent: false,
            ca: readFileSync(pki.ca),
            ...(withCert ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}),
          },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve(`${res.statusCode} ${body}`));
          },
        );
        req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code}`));
        req.end();
      });
    try {
      expect(await get(true)).toBe('200 ok');
      expect(await get(false)).toBe('error ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({
        reason: 'peer did not return a certificate',
        remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown,
      });
    } finally {
      await s.close();
    }
  });
});
