import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../../../../test-support/pki.js';
import { CLI, ProcCluster, until } from './harness.js';

// Three real `x-kv node` processes with mutual TLS between peers and an HTTPS API that requires client
// certificates, all made by openssl in the test. The client side is the real `x-kv` CLI too.

let dir: string;
let pki: TestPki;
let c: ProcCluster;

/** A node's TLS flags, with the given peer certificate (the API always uses the cluster's own). */
function nodeFlags(peerCert: string, peerKey: string): string[] {
  return [
    '--peer-cert-file',
    peerCert,
    '--peer-key-file',
    peerKey,
    '--peer-trusted-ca-file',
    pki.ca,
    '--cert-file',
    pki.nodeCert,
    '--key-file',
    pki.nodeKey,
    '--trusted-ca-file',
    pki.ca,
    '--client-cert-auth',
  ];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'x-kv-tls-'));
  pki = makeTestPki(dir);
  c = await ProcCluster.start(3, nodeFlags(pki.nodeCert, pki.nodeKey));
});
afterAll(async () => {
  await c.stop();
  await rm(dir, { recursive: true, force: true });
});

function xkv(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

const clientFlags = (): string[] => ['--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey];
const log = (id: number): string => c.nodes.get(id)!.log.join('');
/** The reasons node `id` logged for refusing connections with `msg`. */
function refusals(id: number, msg: string): string[] {
  const text = log(id);
  return text
    .slice(0, text.lastIndexOf('\n') + 1) // whole lines only: the last may still be arriving
    .split('\n')
    .filter((l) => l.includes(` ${msg} `))
    .map((l) => String((JSON.parse(l.slice(l.indexOf('{'))) as { reason?: unknown }).reason));
}

describe('x-kv over TLS (real processes, certificates made by openssl)', () => {
  it('a 3-node cluster with mutual TLS between peers serves writes and reads over HTTPS', async () => {
    // The first write waits for the nodes to listen and elect a leader over their TLS links.
    await until(
      async () =>
        (await xkv(['put', 'k', 'v1', '--endpoints', c.url(1), ...clientFlags(), '--timeout', '3000']))
          .code === 0
          ? true
          : undefined,
      'a write over HTTPS',
      30_000,
    );
    const put = await xkv(['put', 'k', 'v2', '--endpoints', c.url(3), ...clientFlags()]);
    expect(put.err).toBe('');
    expect(put.code).toBe(0);
    // A linearizable read on every node sees the last write, whichever node took it.
    for (const id of [1, 2, 3]) {
      const r = await xkv(['get', 'k', '--endpoints', c.url(id), ...clientFlags()]);
      expect(r.code, `node ${id}: ${r.err}`).toBe(0);
      expect((JSON.parse(r.out) as { value: string }).value, `node ${id}`).toBe('v2');
    }
    // An endpoint given without a scheme is dialled over https when TLS flags are given.
    const bare = await xkv(['get', 'k', '--endpoints', c.nodes.get(2)!.client, ...clientFlags()]);
    expect(bare.code).toBe(0);
    for (const id of [1, 2, 3]) {
      expect(log(id)).toContain(`"client":"https://${c.nodes.get(id)!.client}"`);
      expect(log(id)).toContain(`"peer":"mutual TLS ${c.nodes.get(id)!.peer}"`);
    }
  });

  it('refuses a client without a certificate (and logs it), and one whose certificate is from another CA', async () => {
    const before = refusals(1, 'refused client connection').length;
    const none = await xkv(['get', 'k', '--endpoints', c.url(1), '--cacert', pki.ca, '--timeout', '3000']);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/TLS: .*certificate required/);
    expect(none.out).toBe('');
    await until(
      async () => (refusals(1, 'refused client connection').length > before ? true : undefined),
      'the node to log the refused client',
    );
    expect(refusals(1, 'refused client connection').at(-1)).toBe(
      'TLS handshake: peer did not return a certificate',
    );
    const beforeOther = refusals(1, 'refused client connection').length;
    const other = await xkv([
      'get',
      'k',
      '--endpoints',
      c.url(1),
      '--cacert',
      pki.ca,
      '--cert',
      pki.otherCert,
      '--key',
      pki.otherKey,
      '--timeout',
      '3000',
    ]);
    expect(other.code).toBe(1);
    expect(other.out).toBe('');
    // Node drops this one after the handshake without an alert: the client sees a reset, the node logs why.
    await until(
      async () =>
        refusals(1, 'refused client connection')
          .slice(beforeOther)
          .some((r) => r.includes('certificate not trusted'))
          ? true
          : undefined,
      'the node to log the untrusted client certificate',
    );
    // A client that does not trust the cluster's CA refuses the server in turn.
    const untrusting = await xkv([
      'get',
      'k',
      '--endpoints',
      c.url(1),
      '--cert',
      pki.clientCert,
      '--key',
      pki.clientKey,
    ]);
    expect(untrusting.code).toBe(1);
    expect(untrusting.err).toMatch(/TLS: .*(self-signed|local issuer)/);
  });

  it('refuses a peer whose certificate is from another CA, or that has none, and logs why; the cluster keeps serving', async () => {
    // Node 4 trusts the cluster's CA but presents a certificate from another CA.
    await c.define(4);
    c.spawn(4, true, [1, 2, 3, 4], nodeFlags(pki.otherCert, pki.otherKey));
    for (const id of [1, 2, 3]) {
      await until(
        async () =>
          refusals(id, 'refused peer connection').some((r) => r.startsWith('TLS handshake'))
            ? true
            : undefined,
        `node ${id} to log the refused peer`,
      );
      expect(refusals(id, 'refused peer connection').find((r) => r.startsWith('TLS handshake'))).toBe(
        'TLS handshake: certificate not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      );
    }
    await c.kill(4);
    // A TLS dialer without a certificate, at node 2's peer port.
    const peer2 = c.nodes.get(2)!.peer;
    const before = refusals(2, 'refused peer connection').length;
    const s = tls.connect({
      host: '127.0.0.1',
      port: Number(peer2.slice(peer2.lastIndexOf(':') + 1)),
      ca: readFileSync(pki.ca),
      checkServerIdentity: () => undefined,
    });
    s.on('error', () => undefined);
    s.on('secureConnect', () => s.write('hello'));
    await new Promise<void>((r) => s.once('close', () => r()));
    await until(
      async () =>
        refusals(2, 'refused peer connection')
          .slice(before)
          .some((r) => /did not return a certificate/.test(r))
          ? true
          : undefined,
      'node 2 to log the peer without a certificate',
    );
    // Neither got in: the cluster has its three members and serves.
    const members = await xkv(['members', 'list', '--endpoints', c.url(1), ...clientFlags()]);
    expect(
      (JSON.parse(members.out) as { members: { id: number }[] }).members.map((m) => m.id).sort(),
    ).toEqual([1, 2, 3]);
    const put = await xkv(['put', 'after', 'refusals', '--endpoints', c.url(2), ...clientFlags()]);
    expect(put.code).toBe(0);
  });
});
