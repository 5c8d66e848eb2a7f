// TLS on the command line: etcd's flag names for `x-kv node` (and `x-kv cluster`, which passes them on), etcdctl's
// for the client commands. Every misuse fails before anything starts: a flag without its partner or a file that is
// missing, unreadable, not PEM, or a key that does not belong to its certificate.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { PeerTlsOptions } from '@x/raft/node';
import type { Http1TlsOptions } from '../server/http1.js';
import { UsageError } from './usage.js';

/** A TLS file that cannot be used (missing, unreadable, not PEM, a key that is not the certificate's). Exit 1. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
  readonly code = 'ERR_TLS_CONFIG';
}

/** The `parseArgs` options of a node's TLS flags (etcd's names). */
export const NODE_TLS_OPTIONS = {
  'peer-cert-file': { type: 'string' },
  'peer-key-file': { type: 'string' },
  'peer-trusted-ca-file': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
  'trusted-ca-file': { type: 'string' },
  'client-cert-auth': { type: 'boolean', default: false },
} as const;

/** The parsed values of {@link NODE_TLS_OPTIONS}. */
export interface NodeTlsFlags {
  'peer-cert-file'?: string | undefined;
  'peer-key-file'?: string | undefined;
  'peer-trusted-ca-file'?: string | undefined;
  'cert-file'?: string | undefined;
  'key-file'?: string | undefined;
  'trusted-ca-file'?: string | undefined;
  'client-cert-auth'?: boolean | undefined;
}

/** What a node serves over TLS: peer traffic (always mutual) and the HTTP API. */
export interface NodeTls {
  peer?: PeerTlsOptions;
  client?: Http1TlsOptions;
}

/**
 * Checks a node's TLS flags and reads their files. Peer TLS is mutual, as the transport speaks it: the three
 * `--peer-*` flags go together (etcd's `--peer-client-cert-auth` is implied). The API serves HTTPS with
 * `--cert-file` and `--key-file`, and requires client certificates signed by `--trusted-ca-file` with
 * `--client-cert-auth`; a trusted CA without `--client-cert-auth` is refused, as it would check nothing.
 */
export function nodeTlsFromFlags(f: NodeTlsFlags): NodeTls {
  const out: NodeTls = {};
  const peer = [f['peer-cert-file'], f['peer-key-file'], f['peer-trusted-ca-file']];
  if (peer.some((p) => p !== undefined)) {
    const [cert, key, ca] = peer;
    if (cert === undefined || key === undefined || ca === undefined)
      throw new UsageError(
        `peer TLS is mutual: --peer-cert-file, --peer-key-file and --peer-trusted-ca-file go together (missing ${missing(
          { '--peer-cert-file': cert, '--peer-key-file': key, '--peer-trusted-ca-file': ca },
        )})`,
      );
    checkPair(read('--peer-cert-file', cert), read('--peer-key-file', key), ['--peer-cert-file', cert]);
    readCa('--peer-trusted-ca-file', ca);
    out.peer = { cert, key, ca };
  }
  const cert = f['cert-file'];
  const key = f['key-file'];
  const ca = f['trusted-ca-file'];
  const auth = f['client-cert-auth'] === true;
  if ((cert === undefined) !== (key === undefined))
    throw new UsageError(
      `--cert-file and --key-file go together (missing ${cert === undefined ? '--cert-file' : '--key-file'})`,
    );
  if (auth && ca === undefined)
    throw new UsageError(
      '--client-cert-auth needs --trusted-ca-file (the CA client certificates must chain to)',
    );
  if (ca !== undefined && !auth)
    throw new UsageError(
      '--trusted-ca-file checks client certificates only with --client-cert-auth: add it, or drop --trusted-ca-file',
    );
  if ((auth || ca !== undefined) && cert === undefined)
    throw new UsageError(
      '--client-cert-auth and --trusted-ca-file need HTTPS: add --cert-file and --key-file',
    );
  if (cert !== undefined && key !== undefined) {
    const certPem = read('--cert-file', cert);
    const keyPem = read('--key-file', key);
    checkPair(certPem, keyPem, ['--cert-file', cert]);
    out.client = {
      cert: certPem,
      key: keyPem,
      ...(auth && ca !== undefined ? { ca: readCa('--trusted-ca-file', ca), requestCert: true } : {}),
    };
  }
  return out;
}

/** The command-line arguments that give a node the flags `f` (for `x-kv cluster`, which starts nodes). */
export function nodeTlsArgs(f: NodeTlsFlags): string[] {
  const args: string[] = [];
  for (const name of Object.keys(NODE_TLS_OPTIONS) as (keyof NodeTlsFlags)[]) {
    const v = f[name];
    if (typeof v === 'string') args.push(`--${name}`, v);
    else if (v === true) args.push(`--${name}`);
  }
  return args;
}

/** The `parseArgs` options of the client commands' TLS flags (etcdctl's names). */
export const CLIENT_TLS_OPTIONS = {
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
} as const;

/** What a client presents and trusts over HTTPS (PEM contents); empty means the system's CAs and no certificate. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Checks `--cacert`, `--cert` and `--key` and reads their files; undefined when none is given. */
export function clientTlsFromFlags(f: {
  cacert?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}): ClientTls | undefined {
  if (f.cacert === undefined && f.cert === undefined && f.key === undefined) return undefined;
  if ((f.cert === undefined) !== (f.key === undefined))
    throw new UsageError(
      `--cert and --key go together (missing ${f.cert === undefined ? '--cert' : '--key'})`,
    );
  const out: ClientTls = {};
  if (f.cacert !== undefined) out.ca = readCa('--cacert', f.cacert);
  if (f.cert !== undefined && f.key !== undefined) {
    out.cert = read('--cert', f.cert);
    out.key = read('--key', f.key);
    checkPair(out.cert, out.key, ['--cert', f.cert]);
  }
  return out;
}

function missing(flags: Record<string, string | undefined>): string {
  return Object.entries(flags)
    .filter(([, v]) => v === undefined)
    .map(([k]) => k)
    .join(', ');
}

function read(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : String((err as Error).message);
    throw new TlsConfigError(`${flag} ${file}: ${why}`);
  }
}

/** A CA file: it must hold at least one PEM certificate (OpenSSL accepts a file of none and then trusts nothing). */
function readCa(flag: string, file: string): Buffer {
  const pem = read(flag, file);
  if (!pem.includes('-----BEGIN CERTIFICATE-----'))
    throw new TlsConfigError(`${flag} ${file}: holds no PEM certificate`);
  try {
    tls.createSecureContext({ ca: pem });
  } catch (err) {
    throw new TlsConfigError(`${flag} ${file}: ${reason(err)}`);
  }
  return pem;
}

/** A certificate and its key: both PEM, and the key the certificate's. */
function checkPair(cert: Buffer, key: Buffer, [flag, file]: [string, string]): void {
  try {
    tls.createSecureContext({ cert, key });
  } catch (err) {
    const keyFlag = flag.replace(/cert(-file)?$/, (m) => m.replace('cert', 'key'));
    throw new TlsConfigError(`${flag} ${file} with ${keyFlag}: ${reason(err)}`);
  }
}

/** OpenSSL's readable reason, without its error-stack prefix. */
function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return (err as { reason?: string }).reason ?? err.message;
}
