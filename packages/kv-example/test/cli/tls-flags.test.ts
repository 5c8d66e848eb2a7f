import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TlsConfigError,
  clientTlsFromFlags,
  nodeTlsArgs,
  nodeTlsFromFlags,
  type NodeTlsFlags,
} from '../../src/cli/tls-flags.js';
import { UsageError } from '../../src/cli/usage.js';
import { makeTestPki, type TestPki } from '../../../../test-support/pki.js';
import { reservePort } from '../../../../test-support/ports.js';
import { CLI } from '../e2e/harness.js';

let dir: string;
let pki: TestPki;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-kv-tls-flags-'));
  pki = makeTestPki(dir);
  await writeFile(join(dir, 'not-pem.txt'), 'hello');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The error `fn` throws: its class and message. */
function thrown(fn: () => unknown): { type: string; message: string } {
  try {
    fn();
  } catch (err) {
    return {
      type: err instanceof UsageError ? 'usage' : err instanceof TlsConfigError ? 'config' : 'other',
      message: (err as Error).message,
    };
  }
  return { type: 'none', message: '' };
}

describe('node TLS flags', () => {
  it('reads a full set: mutual TLS for peers (paths), HTTPS with client certificates for the API (contents)', () => {
    const t = nodeTlsFromFlags({
      'peer-cert-file': pki.nodeCert,
      'peer-key-file': pki.nodeKey,
      'peer-trusted-ca-file': pki.ca,
      'cert-file': pki.nodeCert,
      'key-file': pki.nodeKey,
      'trusted-ca-file': pki.ca,
      'client-cert-auth': true,
    });
    expect(t.peer).toEqual({ cert: pki.nodeCert, key: pki.nodeKey, ca: pki.ca });
    expect(t.client?.requestCert).toBe(true);
    expect(t.client?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(t.client?.ca?.toString()).toContain('BEGIN CERTIFICATE');
    const https = nodeTlsFromFlags({ 'cert-file': pki.nodeCert, 'key-file': pki.nodeKey });
    expect(https.peer).toBeUndefined();
    expect(https.client?.requestCert).toBeUndefined();
    expect(nodeTlsFromFlags({})).toEqual({});
  });

  it('refuses a flag without its partners, naming what is missing (a usage error)', () => {
    const cases: [NodeTlsFlags, RegExp][] = [
      [{ 'peer-cert-file': 'x' }, /--peer-key-file, --peer-trusted-ca-file/],
      [{ 'peer-cert-file': 'x', 'peer-key-file': 'y' }, /missing --peer-trusted-ca-file\)/],
      [{ 'cert-file': 'x' }, /--cert-file and --key-file go together \(missing --key-file\)/],
      [{ 'key-file': 'x' }, /missing --cert-file/],
      [
        { 'cert-file': 'x', 'key-file': 'y', 'client-cert-auth': true },
        /--client-cert-auth needs --trusted-ca-file/,
      ],
      [{ 'cert-file': 'x', 'key-file': 'y', 'trusted-ca-file': 'z' }, /only with --client-cert-auth/],
      [{ 'client-cert-auth': true, 'trusted-ca-file': 'z' }, /need HTTPS: add --cert-file and --key-file/],
    ];
    for (const [flags, want] of cases) {
      const e = thrown(() => nodeTlsFromFlags(flags));
      expect(e.type, JSON.stringify(flags)).toBe('usage');
      expect(e.message, JSON.stringify(flags)).toMatch(want);
    }
  });

  it('refuses a missing file, a file that is not PEM, and a key that is not the certificate’s, naming flag and file', () => {
    const missing = join(dir, 'nope.pem');
    const full = (over: NodeTlsFlags): NodeTlsFlags => ({
      'peer-cert-file': pki.nodeCert,
      'peer-key-file': pki.nodeKey,
      'peer-trusted-ca-file': pki.ca,
      ...over,
    });
    const cases: [NodeTlsFlags, string][] = [
      [full({ 'peer-key-file': missing }), `--peer-key-file ${missing}: no such file`],
      [full({ 'peer-trusted-ca-file': join(dir, 'not-pem.txt') }), 'not-pem.txt: holds no PEM certificate'],
      [
        full({ 'peer-cert-file': join(dir, 'not-pem.txt') }),
        `--peer-cert-file ${join(dir, 'not-pem.txt')} with --peer-key-file`,
      ],
      [
        full({ 'peer-key-file': pki.clientKey }),
        `--peer-cert-file ${pki.nodeCert} with --peer-key-file: key values mismatch`,
      ],
      [{ 'cert-file': pki.nodeCert, 'key-file': pki.otherKey }, '--cert-file'],
      [{ 'cert-file': missing, 'key-file': pki.nodeKey }, `--cert-file ${missing}: no such file`],
    ];
    for (const [flags, want] of cases) {
      const e = thrown(() => nodeTlsFromFlags(flags));
      expect(e.type, JSON.stringify(flags)).toBe('config');
      expect(e.message, JSON.stringify(flags)).toContain(want);
    }
  });

  it('turns the flags back into arguments for the nodes x-kv cluster starts', () => {
    expect(
      nodeTlsArgs({ 'cert-file': 'a', 'key-file': 'b', 'client-cert-auth': true, 'trusted-ca-file': 'c' }),
    ).toEqual(['--cert-file', 'a', '--key-file', 'b', '--trusted-ca-file', 'c', '--client-cert-auth']);
    expect(nodeTlsArgs({ 'client-cert-auth': false })).toEqual([]);
  });
});

describe('client TLS flags', () => {
  it('reads --cacert, --cert and --key; refuses half a pair and a missing file', () => {
    expect(clientTlsFromFlags({})).toBeUndefined();
    const t = clientTlsFromFlags({ cacert: pki.ca, cert: pki.clientCert, key: pki.clientKey });
    expect(t?.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(t?.key?.toString()).toContain('PRIVATE KEY');
    expect(thrown(() => clientTlsFromFlags({ cert: pki.clientCert }))).toEqual({
      type: 'usage',
      message: '--cert and --key go together (missing --key)',
    });
    expect(thrown(() => clientTlsFromFlags({ cacert: join(dir, 'x.pem') })).message).toBe(
      `--cacert ${join(dir, 'x.pem')}: no such file`,
    );
    expect(thrown(() => clientTlsFromFlags({ cert: pki.clientCert, key: pki.nodeKey })).message).toContain(
      'key values mismatch',
    );
  });
});

describe('x-kv node with bad TLS flags', () => {
  function xkv(args: string[]): Promise<{ code: number | null; err: string; out: string }> {
    return new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      let out = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => resolve({ code, err, out }));
    });
  }

  it('exits at once, before it listens or creates its data directory: 2 for a usage mistake, 1 for a bad file', async () => {
    const peers = `1=127.0.0.1:${await reservePort()}/127.0.0.1:${await reservePort()}`;
    const data = join(dir, 'never-created');
    const half = await xkv([
      'node',
      '--id',
      '1',
      '--peers',
      peers,
      '--data',
      data,
      '--peer-cert-file',
      pki.nodeCert,
    ]);
    expect(half.code).toBe(2);
    expect(half.err).toContain('x-kv: peer TLS is mutual');
    expect(half.err).toContain('usage:');
    const noFile = join(dir, 'missing-key.pem');
    const bad = await xkv([
      'node',
      '--id',
      '1',
      '--peers',
      peers,
      '--data',
      data,
      '--cert-file',
      pki.nodeCert,
      '--key-file',
      noFile,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.err).toBe(`x-kv: ERR_TLS_CONFIG: --key-file ${noFile}: no such file\n`);
    expect(bad.out).toBe('');
    const cluster = await xkv([
      'cluster',
      '--data',
      data,
      '--client-cert-auth',
      '--cert-file',
      pki.nodeCert,
      '--key-file',
      pki.nodeKey,
    ]);
    expect(cluster.code).toBe(2);
    expect(cluster.err).toContain('--client-cert-auth needs --trusted-ca-file');
    await expect(import('node:fs/promises').then((fs) => fs.stat(data))).rejects.toThrow(/ENOENT/);
  });
});
