import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reservePort } from '../../../../test-support/ports.js';

// The built `x-kv`, started through a symlink as npm's bin link starts it. What a person reads when something
// fails: the usage text only for usage mistakes (exit 2); otherwise one message naming what failed (exit 1).
const BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

let root: string;
let link: string;
const servers: net.Server[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'x-kv-cli-'));
  link = join(root, 'x-kv');
  await symlink(BIN, link);
});
afterAll(async () => {
  for (const s of servers) s.close();
  await rm(root, { recursive: true, force: true });
});

function xkv(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [link, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** A TCP server on a reserved port that does `onConnection` with each socket. */
async function tcpServer(onConnection: (s: net.Socket) => void): Promise<number> {
  const port = await reservePort();
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  servers.push(server);
  return port;
}

describe('x-kv errors', () => {
  it('usage mistakes print the usage and exit 2', async () => {
    const restoreWrongId = [
      'restore',
      'f',
      '--data',
      'd',
      '--id',
      '3',
      '--peers',
      '1=127.0.0.1:1/127.0.0.1:2',
    ];
    for (const args of [
      [],
      ['get'],
      ['frobnicate'],
      ['put', 'a', 'b', '--bogus'],
      ['node', '--id', 'x'],
      ['backup'],
      ['restore', 'f'],
      restoreWrongId,
    ]) {
      const r = await xkv(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain('usage:');
    }
    const help = await xkv('--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('usage:');
  });

  it('no endpoint answering names each endpoint and its cause: refused, timed out, TLS; no usage text', async () => {
    const refused = `http://127.0.0.1:${await reservePort()}`; // reserved, nothing listens
    const silent = `http://127.0.0.1:${await tcpServer(() => undefined)}`; // accepts, never answers
    const plain = `https://127.0.0.1:${await tcpServer((s) => s.end('HTTP/1.1 200 OK\r\n\r\n'))}`; // no TLS
    const r = await xkv('get', 'foo', '--endpoints', [refused, silent, plain].join(','), '--timeout', '300');
    expect(r.code).toBe(1);
    expect(r.err).not.toContain('usage');
    const lines = r.err.split('\n');
    expect(lines[0]).toBe('x-kv: no endpoint answered:');
    expect(lines.find((l) => l.includes(refused))).toMatch(/connection refused.*ECONNREFUSED/);
    expect(lines.find((l) => l.includes(silent))).toContain('timed out after 300 ms');
    expect(lines.find((l) => l.includes(plain))).toMatch(/TLS: wrong version number \(EPROTO\)$/);
  });

  it('an error answer prints its status and code once, on stderr, and exits 1', async () => {
    const body = JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such key' } });
    const port = await tcpServer((s) =>
      s.once('data', () =>
        s.end(
          `HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        ),
      ),
    );
    const r = await xkv('get', 'foo', '--endpoints', `http://127.0.0.1:${port}`);
    expect(r.code).toBe(1);
    expect(r.err).toBe('x-kv: HTTP 404 NOT_FOUND: no such key\n');
    expect(r.out).toBe('');
  });

  it('a node whose WAL cannot be read exits 1 with the WAL error code once and no usage text', async () => {
    const data = join(root, 'corrupt');
    await mkdir(join(data, 'wal'), { recursive: true });
    await writeFile(
      join(data, 'wal', '0000000000000000-0000000000000000.wal'),
      'not a wal record, just text',
    );
    const [p, c] = [await reservePort(), await reservePort()];
    const r = await xkv('node', '--id', '1', '--peers', `1=127.0.0.1:${p}/127.0.0.1:${c}`, '--data', data);
    expect(r.code).toBe(1);
    expect(r.err).not.toContain('usage');
    expect(r.err.match(/ERR_WAL_CRC_MISMATCH/g)).toHaveLength(1);
    expect(r.err).toContain('0000000000000000-0000000000000000.wal');
  });

  it('a backup that no endpoint gives exits 1 naming each answer, and leaves no file behind', async () => {
    const body = JSON.stringify({ error: { code: 'NO_LEADER', message: 'no leader' } });
    const port = await tcpServer((s) =>
      s.once('data', () =>
        s.end(
          `HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
        ),
      ),
    );
    const file = join(root, 'backup.snap');
    const r = await xkv('backup', file, '--endpoints', `http://127.0.0.1:${port}`);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`http://127.0.0.1:${port}: HTTP 500`);
    expect(r.err).toContain('NO_LEADER');
    expect((await readdir(root)).filter((f) => f.startsWith('backup.snap'))).toEqual([]);
  });
});
