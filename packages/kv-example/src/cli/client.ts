import { runBackup } from './backup.js';
import { exchange } from './http-client.js';
import { CLIENT_TLS_OPTIONS, clientTlsFromFlags, type ClientTls } from './tls-flags.js';
import { writeWithSession } from './session-write.js';
import { parseCommandLine, UsageError } from './usage.js';

/** Why one endpoint gave no answer, in words a person can act on. */
export function describeFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `timed out after ${timeoutMs} ms`;
  // fetch wraps the socket's error as its cause ("fetch failed" says nothing by itself); node:http gives it as is.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as NodeJS.ErrnoException).code ?? '';
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listens there)',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found (DNS lookup failed)',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'timed out connecting',
    UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
    UND_ERR_SOCKET: 'the connection closed before an answer',
  };
  const said = known[code];
  if (said !== undefined) return `${said} (${code})`;
  // node:https reports some TLS failures (a server that speaks no TLS) as EPROTO with OpenSSL's error line as the
  // message: `...:SSL routines:<function>:<reason>:<file>:<line>:`. The reason is the readable part.
  const ssl = code === 'EPROTO' ? /:SSL routines:[^:]*:([^:]+):/.exec(cause.message) : null;
  if (ssl !== null) return `TLS: ${ssl[1]} (${code})`;
  if (
    /^(ERR_SSL|ERR_TLS|CERT_|DEPTH_ZERO|UNABLE_TO|SELF_SIGNED)/.test(code) ||
    /ssl|tls/i.test(cause.message)
  )
    // OpenSSL's message is a long error-stack line; its `reason` is the readable part.
    return `TLS: ${(cause as { reason?: string }).reason ?? cause.message}${code !== '' ? ` (${code})` : ''}`;
  return `${cause.message}${code !== '' ? ` (${code})` : ''}`;
}

/** No endpoint gave an answer; `failures` says why for each, in order. */
export class NoEndpointError extends Error {
  override readonly name = 'NoEndpointError';
  constructor(readonly failures: readonly { endpoint: string; reason: string }[]) {
    super(`no endpoint answered:\n${failures.map((f) => `  ${f.endpoint}: ${f.reason}`).join('\n')}`);
  }
}

/**
 * Sends one request to the first endpoint that answers; connection errors, timeouts and 503 (no leader yet, not
 * ready) try the next one; each gets `timeoutMs`. When a node answered 503, the endpoints are tried again (every
 * 200 ms) for up to `timeoutMs` in all: right after a restart a cluster has no leader for a moment. Throws
 * {@link NoEndpointError}, naming each endpoint and its last failure, when none answered. `tls` is what https:
 * endpoints are trusted by and shown (`--cacert`, `--cert`, `--key`).
 */
export async function requestAny(
  endpoints: string[],
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 15_000,
  tls?: ClientTls,
  headers?: Record<string, string>,
): Promise<{ status: number; json: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failures: { endpoint: string; reason: string }[] = [];
    let unavailable = false;
    for (const ep of endpoints) {
      try {
        const res = await exchange(new URL(path, ep), {
          method,
          signal: AbortSignal.timeout(timeoutMs),
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          tls,
          headers,
        });
        const text = res.text;
        const json: unknown = text.length > 0 && res.contentType.includes('json') ? JSON.parse(text) : text;
        if (res.status === 503) {
          unavailable = true;
          failures.push({ endpoint: ep, reason: `503 ${JSON.stringify(json)}` });
          continue;
        }
        return { status: res.status, json };
      } catch (err) {
        failures.push({ endpoint: ep, reason: describeFailure(err, timeoutMs) });
      }
    }
    if (!unavailable || Date.now() + 200 >= deadline) throw new NoEndpointError(failures);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `x-kv put|get|del|cas|incr|members|status|snapshot ...` against `--endpoints`. Writes go through a client session
 * (`writeWithSession`): retried after an unknown outcome, they are applied once.
 */
export async function runClient(cmd: string, argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      endpoints: { type: 'string', default: process.env.X_KV_ENDPOINTS ?? 'http://127.0.0.1:12391' },
      serializable: { type: 'boolean', default: false },
      'prev-value': { type: 'string' },
      'prev-revision': { type: 'string' },
      delta: { type: 'string', default: '1' },
      learner: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '15000' },
      ...CLIENT_TLS_OPTIONS,
    },
    strict: true,
  });
  const tls = clientTlsFromFlags(values);
  // An endpoint without a scheme is https when TLS flags are given (as etcdctl dials them), http otherwise.
  const scheme = tls !== undefined ? 'https' : 'http';
  const eps = values.endpoints.split(',').map((e) => (e.startsWith('http') ? e : `${scheme}://${e}`));
  for (const ep of eps) if (!URL.canParse(ep)) throw new UsageError(`--endpoints: ${ep} is not a URL`);
  const timeoutMs = Number(values.timeout);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw new UsageError('--timeout must be a positive number of milliseconds');
  const request = (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> => requestAny(eps, method, path, body, timeoutMs, tls);
  const write = (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> =>
    writeWithSession(
      Object.assign(
        (m: string, p: string, b: unknown, h: Record<string, string> | undefined, ms: number) =>
          requestAny(eps, m, p, b, ms, tls, h),
        { unknown: (err: unknown) => err instanceof NoEndpointError },
      ),
      method,
      path,
      body,
      timeoutMs,
    );
  if (cmd === 'backup') {
    if (positionals.length !== 1) throw new UsageError('backup takes one FILE');
    return runBackup(positionals[0]!, eps, tls, timeoutMs);
  }
  const key = (i: number): string => {
    const k = positionals[i];
    if (k === undefined) throw new UsageError(`missing argument ${i + 1} for ${cmd}`);
    return k;
  };
  let r: { status: number; json: unknown };
  switch (cmd) {
    case 'put':
      r = await write('PUT', `/kv/${encodeURIComponent(key(0))}`, { value: key(1) });
      break;
    case 'get':
      r = await request(
        'GET',
        `/kv/${encodeURIComponent(key(0))}${values.serializable ? '?consistency=serializable' : ''}`,
      );
      break;
    case 'del':
      r = await write('DELETE', `/kv/${encodeURIComponent(key(0))}`);
      break;
    case 'cas': {
      const body: Record<string, unknown> = { value: key(1) };
      if (values['prev-value'] !== undefined) body.prevValue = values['prev-value'];
      if (values['prev-revision'] !== undefined) body.prevRevision = Number(values['prev-revision']);
      if (body.prevValue === undefined && body.prevRevision === undefined)
        throw new UsageError('cas needs --prev-value or --prev-revision');
      r = await write('PUT', `/kv/${encodeURIComponent(key(0))}`, body);
      break;
    }
    case 'incr': {
      const delta = Number(values.delta);
      if (!Number.isSafeInteger(delta)) throw new UsageError('--delta must be an integer');
      r = await write('POST', `/kv/${encodeURIComponent(key(0))}`, { delta });
      break;
    }
    case 'members': {
      const sub = positionals[0] ?? 'list';
      if (sub === 'list') r = await request('GET', '/members');
      else if (sub === 'add')
        r = await request('POST', '/members', {
          id: Number(key(1)),
          peer: key(2),
          client: key(3),
          learner: values.learner,
        });
      else if (sub === 'remove') r = await request('DELETE', `/members/${Number(key(1))}`);
      else if (sub === 'promote') r = await request('POST', `/members/${Number(key(1))}/promote`);
      else throw new UsageError(`unknown members subcommand ${sub}`);
      break;
    }
    case 'status':
      r = await request('GET', '/status');
      break;
    case 'snapshot':
      r = await request('POST', '/snapshot');
      break;
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
  if (r.status >= 200 && r.status < 300) {
    process.stdout.write(`${JSON.stringify(r.json, null, 2)}\n`);
    return 0;
  }
  // An error answer: its status and the API's error code and message, on stderr, once.
  const e = (r.json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const what =
    e !== undefined ? `${String(e.code)}: ${String(e.message)}` : JSON.stringify(r.json) || '(empty body)';
  process.stderr.write(`x-kv: HTTP ${r.status} ${what}\n`);
  // Anything beside the error (a failed CAS's current value) is data a script may want: it stays on stdout.
  if (e !== undefined && Object.keys(r.json as object).length > 1)
    process.stdout.write(`${JSON.stringify(r.json, null, 2)}\n`);
  return 1;
}
