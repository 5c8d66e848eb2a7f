// One HTTP or HTTPS exchange for the client commands, on node:http/node:https: unlike the global fetch, these take
// a CA, a client certificate and a key per request, which `--cacert`, `--cert` and `--key` need.
import http from 'node:http';
import https from 'node:https';
import type { ClientTls } from './tls-flags.js';

/** An answer: status, content type and the body as text. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Sends one request to `url` (http: or https:) on a new connection and reads the whole answer. Fails with the
 * socket's or TLS's error (its `code`, e.g. ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT), or an AbortError when
 * `signal` aborts. `tls` applies to https: URLs; without it, the system's CAs are trusted and no certificate is sent.
 */
export function exchange(
  url: URL,
  init: {
    method: string;
    body?: string;
    signal: AbortSignal;
    tls?: ClientTls | undefined;
    /** Extra request headers (e.g. a client session's X-Client-Id / X-Client-Seq). */
    headers?: Record<string, string> | undefined;
    /** Takes a 200 answer's body as a stream (e.g. into a file) instead of reading it as text. */
    sink?: ((body: http.IncomingMessage) => Promise<void>) | undefined;
  },
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      method: init.method,
      signal: init.signal,
      agent: false, // one connection per request: a command sends one or two, and must not wait on keep-alive
      headers: {
        ...init.headers,
        ...(init.body !== undefined
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(init.body) }
          : {}),
      },
    };
    if (url.protocol === 'https:' && init.tls !== undefined) {
      if (init.tls.ca !== undefined) options.ca = init.tls.ca;
      if (init.tls.cert !== undefined) options.cert = init.tls.cert;
      if (init.tls.key !== undefined) options.key = init.tls.key;
    }
    const onAnswer = (res: http.IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      const contentType = res.headers['content-type'] ?? '';
      if (status === 200 && init.sink !== undefined) {
        init.sink(res).then(() => resolve({ status, contentType, text: '' }), reject);
        return;
      }
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => resolve({ status, contentType, text: Buffer.concat(parts).toString('utf8') }));
    };
    const req =
      url.protocol === 'https:'
        ? https.request(url, options, onAnswer)
        : http.request(url, options, onAnswer);
    req.on('error', reject);
    req.end(init.body);
  });
}
