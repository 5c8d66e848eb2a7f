import { createReadStream } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { watchTlsRefusals, type TlsRefusal } from '@x/raft/node';

// A small HTTP/1.1 server for the KV API, on `node:net`. On this project's 2-core machine node:http spent about twice
// the CPU per keep-alive request that this does (`bench/http-server.mjs`, BENCHMARKS.md), and on a busy leader the
// HTTP layer was the largest cost. It speaks what the API needs, strictly: keep-alive (HTTP/1.1 default, HTTP/1.0 on
// request), Content-Length and chunked request bodies, `Expect: 100-continue`, one request at a time per connection
// (pipelined requests wait their turn, so responses keep their order). Anything else is refused with a status and
// the connection closed: malformed request lines or headers (400), header sections over the limit (431), bodies
// over the limit (413 BODY_TOO_LARGE), both Content-Length and Transfer-Encoding (400, the request-smuggling case),
// other transfer codings (501). A connection idle past the timeout, or stuck mid-request, is closed.
//
// Every close the server starts is a *lingering* close (as nginx and node:http do): after the answer it shuts down
// its write side and keeps reading, discarding what arrives, until the client closes, or `lingerMs` or
// `lingerBytes` run out. Closing at once while the client is still sending its body would leave unread bytes in
// the kernel's receive buffer; the kernel then answers them with a RST, and the client's pending write fails with
// EPIPE/ECONNRESET before it reads the answer (fetch reports only "fetch failed").

/** A parsed request. Header names are lower case; a repeated header's values are joined with ", ". */
export interface Http1Request {
  readonly method: string;
  /** The request target as sent: path and optional `?query`. */
  readonly target: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

/** What a handler answers. */
export interface Http1Response {
  status: number;
  contentType: string;
  body: string;
  /**
   * Sent instead of `body`: `size` bytes of a file, streamed (with backpressure) and followed by a close of the
   * connection. `finished` is called once, when the file was sent or the sending failed (e.g. to delete it).
   */
  file?: { path: string; size: number; finished?: (err?: Error) => void };
}

export type Http1Handler = (req: Http1Request) => Promise<Http1Response>;

/** Limits of {@link Http1Server}. */
export interface Http1Limits {
  /** Request line plus headers. Default 16 KiB (node:http's default). */
  maxHeaderBytes?: number;
  /** Request body. Default 1 MiB + 4 KiB. */
  maxBodyBytes?: number;
  /** A connection with no complete request for this long is closed. Default 60 s. */
  idleTimeoutMs?: number;
  /** After answering with a close, keep reading (and discarding) for at most this long. Default 2 s. */
  lingerMs?: number;
  /** ... and at most this many bytes. Default 16 MiB. */
  lingerBytes?: number;
}

/** HTTPS for {@link Http1Server}: PEM contents (not paths), as `tls.createServer` takes them. */
export interface Http1TlsOptions {
  cert: Buffer;
  key: Buffer;
  /** CAs that client certificates must chain to (with `requestCert`). */
  ca?: Buffer;
  /** Require a client certificate signed by `ca`; a client without one is refused in the handshake. */
  requestCert?: boolean;
}

/** Options of {@link Http1Server}: its limits and, for HTTPS, its certificate. */
export interface Http1ServerOptions extends Http1Limits {
  /** Serve HTTPS instead of HTTP. The limits and the lingering close apply the same over TLS. */
  tls?: Http1TlsOptions;
  /** Told of each connection refused in the TLS handshake (no or an untrusted client certificate, not TLS at all). */
  onTlsRefused?: (refusal: TlsRefusal) => void;
}

const REASONS: Record<number, string> = {
  100: 'Continue',
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const CRLF2 = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^([A-Z]{1,16}) (\/[^\s]*) HTTP\/1\.([01])$/;
/** A character that may not appear in a (lower-cased) header name. */
const NOT_TOKEN = /[^!#$%&'*+\-.^_`|~0-9a-z]/;

/** A request the connection cannot serve: answered with `status`, then the connection closes. */
class ProtocolError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = status === 431
      ? 'HEADERS_TOO_LARGE'
      : status === 413
        ? 'BODY_TOO_LARGE'
        : status >= 500
          ? 'INTERNAL'
          : 'BAD_REQUEST',
  ) {
    super(message);
  }
}

/**
 * The server: `listen`, then `close` (which also ends open connections). With `tls`, the same server over TLS (a
 * `tls.Server`, whose sockets carry the decrypted bytes): a connection is served once its handshake is done, and
 * a handshake that has not finished within `idleTimeoutMs` is dropped.
 *
 * @example
 * ```ts
 * const server = new Http1Server(async (req) => ({ status: 200, contentType: 'text/plain', body: req.target }), {
 *   tls: { cert: readFileSync('server.pem'), key: readFileSync('server.key') },
 * });
 * await server.listen(8443, '127.0.0.1');
 * ```
 */
export class Http1Server {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly limits: Required<Http1Limits>;

  constructor(
    private readonly handler: Http1Handler,
    options: Http1ServerOptions = {},
  ) {
    this.limits = {
      maxHeaderBytes: options.maxHeaderBytes ?? 16 * 1024,
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024 + 4096,
      idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
      lingerMs: options.lingerMs ?? 2_000,
      lingerBytes: options.lingerBytes ?? 16 * 1024 * 1024,
    };
    const accept = (socket: net.Socket): void => this.accept(socket);
    const t = options.tls;
    if (t === undefined) this.server = net.createServer(accept);
    else {
      const secure = tls.createServer(
        {
          cert: t.cert,
          key: t.key,
          ...(t.ca !== undefined ? { ca: t.ca } : {}),
          requestCert: t.requestCert === true,
          rejectUnauthorized: t.requestCert === true,
          handshakeTimeout: this.limits.idleTimeoutMs,
        },
        accept,
      );
      const onRefused = options.onTlsRefused;
      if (onRefused !== undefined) watchTlsRefusals(secure, onRefused);
      this.server = secure;
    }
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  address(): net.AddressInfo | undefined {
    const a = this.server.address();
    return a !== null && typeof a === 'object' ? a : undefined;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.idleTimeoutMs, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
    new Connection(socket, this.handler, this.limits);
  }
}

/** One client connection: buffers bytes, parses one request at a time, answers it, then parses the next. */
class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private busy = false;
  /** Sent `100 Continue` for the request being read. */
  private continued = false;
  /** The last answer is written and the write side shut: what still arrives is counted and discarded. */
  private lingering = false;
  private lingered = 0;

  constructor(
    private readonly socket: net.Socket,
    private readonly handler: Http1Handler,
    private readonly limits: Required<Http1Limits>,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (this.lingering) {
        this.lingered += chunk.length;
        if (this.lingered > this.limits.lingerBytes) socket.destroy();
        return;
      }
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      if (!this.busy) this.next();
      // A client that keeps sending while its request is served: stop reading past one request's worth.
      else if (this.buf.length > this.limits.maxHeaderBytes + this.limits.maxBodyBytes) socket.pause();
    });
  }

  /** Parses and serves the next complete request in the buffer, if there is one. */
  private next(): void {
    let parsed: { req: Http1Request; keepAlive: boolean; used: number } | undefined;
    try {
      parsed = this.parse();
    } catch (err) {
      this.write(refusal(err instanceof ProtocolError ? err : new ProtocolError(400, String(err))), false);
      return;
    }
    if (parsed === undefined) return;
    const { req, keepAlive, used } = parsed;
    this.buf = this.buf.subarray(used);
    this.continued = false;
    this.busy = true;
    this.handler(req).then(
      (res) => this.done(res, keepAlive),
      (err: unknown) =>
        this.done(
          refusal(new ProtocolError(500, err instanceof Error ? err.message : String(err))),
          keepAlive,
        ),
    );
  }

  private done(res: Http1Response, keepAlive: boolean): void {
    this.busy = false;
    if (this.socket.destroyed) {
      res.file?.finished?.(new Error('the client closed the connection'));
      return;
    }
    if (res.file !== undefined) return this.sendFile(res, res.file);
    this.write(res, keepAlive);
    if (!keepAlive) return;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.buf.length > 0) this.next();
  }

  private write(res: Http1Response, keepAlive: boolean): void {
    const head =
      `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}\r\ncontent-type: ${res.contentType}\r\n` +
      `content-length: ${Buffer.byteLength(res.body)}\r\n${keepAlive ? '' : 'connection: close\r\n'}\r\n`;
    if (keepAlive) this.socket.write(head + res.body);
    else this.closeLingering(head + res.body);
  }

  /** Streams a file as the answer's body, then closes the connection (lingering). */
  private sendFile(res: Http1Response, file: NonNullable<Http1Response['file']>): void {
    this.busy = true; // for good: requests sent after this one are not served (the connection closes after it)
    let told = false;
    const finished = (err?: Error): void => {
      if (!told) file.finished?.(err);
      told = true;
    };
    this.socket.write(
      `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}\r\ncontent-type: ${res.contentType}\r\n` +
        `content-length: ${file.size}\r\nconnection: close\r\n\r\n`,
    );
    this.socket.setTimeout(0); // a large file to a slow client is not an idle connection
    if (file.size === 0) {
      finished();
      this.closeLingering('');
      return;
    }
    const data = createReadStream(file.path, { start: 0, end: file.size - 1 });
    data.on('error', (err) => {
      this.socket.destroy();
      finished(err);
    });
    this.socket.once('close', () => {
      data.destroy();
      finished(new Error('the connection closed before the file was sent'));
    });
    data.once('end', () => {
      finished();
      this.closeLingering('');
    });
    data.pipe(this.socket, { end: false });
  }

  /**
   * Writes `last`, shuts the write side (FIN after the answer), and drains the read side until the client closes
   * (the socket then ends by itself: `allowHalfOpen` is off) or the linger bounds run out.
   */
  private closeLingering(last: string): void {
    this.lingering = true;
    this.buf = Buffer.alloc(0);
    this.socket.end(last);
    if (this.socket.isPaused()) this.socket.resume();
    this.socket.setTimeout(0);
    const timer = setTimeout(() => this.socket.destroy(), this.limits.lingerMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /** A complete request at the start of the buffer, or undefined if more bytes are needed. */
  private parse(): { req: Http1Request; keepAlive: boolean; used: number } | undefined {
    const { maxHeaderBytes, maxBodyBytes } = this.limits;
    const end = this.buf.indexOf(CRLF2);
    if (end < 0) {
      if (this.buf.length > maxHeaderBytes) throw new ProtocolError(431, 'request headers too large');
      return undefined;
    }
    if (end + 4 > maxHeaderBytes) throw new ProtocolError(431, 'request headers too large');
    const head = this.buf.toString('latin1', 0, end);
    const firstEnd = head.indexOf('\r\n');
    const line = REQUEST_LINE.exec(firstEnd < 0 ? head : head.slice(0, firstEnd));
    if (line === null) throw new ProtocolError(400, 'malformed request line');
    const [, method = '', target = '', minor] = line;
    const headers = new Map<string, string>();
    // Header lines by hand (indexOf and slice): a regex and an array per line cost a busy leader measurably.
    for (let pos = firstEnd < 0 ? head.length : firstEnd + 2; pos < head.length;) {
      let eol = head.indexOf('\r\n', pos);
      if (eol < 0) eol = head.length;
      const colon = head.indexOf(':', pos);
      if (colon <= pos || colon > eol) throw new ProtocolError(400, 'malformed header line');
      const name = head.slice(pos, colon).toLowerCase();
      if (NOT_TOKEN.test(name)) throw new ProtocolError(400, 'malformed header name');
      const value = head.slice(colon + 1, eol).trim();
      const prev = headers.get(name);
      headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
      pos = eol + 2;
    }
    const connection = headers.get('connection')?.toLowerCase() ?? '';
    const keepAlive = minor === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const start = end + 4;
    const te = headers.get('transfer-encoding');
    const cl = headers.get('content-length');
    if (te !== undefined && cl !== undefined)
      throw new ProtocolError(400, 'both Content-Length and Transfer-Encoding');
    let body: Buffer;
    let used: number;
    if (te !== undefined) {
      if (te.toLowerCase() !== 'chunked') throw new ProtocolError(501, `transfer coding ${te} not supported`);
      this.maybeContinue(headers);
      const chunked = readChunked(this.buf, start, maxBodyBytes);
      if (chunked === undefined) return undefined;
      ({ body, used } = chunked);
    } else {
      if (cl !== undefined && !/^\d{1,15}$/.test(cl)) throw new ProtocolError(400, 'invalid Content-Length');
      const length = cl === undefined ? 0 : Number(cl);
      if (length > maxBodyBytes) throw tooLarge(maxBodyBytes);
      if (length > 0) this.maybeContinue(headers);
      if (this.buf.length < start + length) return undefined;
      body = this.buf.subarray(start, start + length);
      used = start + length;
    }
    return { req: { method, target, headers, body }, keepAlive, used };
  }

  /** Answers `Expect: 100-continue` once per request, before its body arrives. */
  private maybeContinue(headers: ReadonlyMap<string, string>): void {
    if (this.continued || headers.get('expect')?.toLowerCase() !== '100-continue') return;
    this.continued = true;
    this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  }
}

/** Decodes a chunked body starting at `start`; undefined while incomplete. Trailers are read and ignored. */
function readChunked(
  buf: Buffer,
  start: number,
  maxBodyBytes: number,
): { body: Buffer; used: number } | undefined {
  const parts: Buffer[] = [];
  let size = 0;
  let at = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', at, 'latin1');
    if (eol < 0) {
      if (buf.length - at > 1024) throw new ProtocolError(400, 'chunk size line too long');
      return undefined;
    }
    const sizeText = buf.toString('latin1', at, eol).split(';')[0]?.trim() ?? '';
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new ProtocolError(400, 'invalid chunk size');
    const n = parseInt(sizeText, 16);
    if (n === 0) {
      // The last chunk: then optional trailer lines (ignored) and an empty line.
      const p = eol + 2;
      if (buf.length < p + 2) return undefined;
      let used: number;
      if (buf[p] === 13 && buf[p + 1] === 10) used = p + 2;
      else {
        const t = buf.indexOf(CRLF2, p);
        if (t < 0) {
          if (buf.length - p > 16 * 1024) throw new ProtocolError(431, 'trailers too large');
          return undefined;
        }
        used = t + 4;
      }
      return { body: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), used };
    }
    size += n;
    if (size > maxBodyBytes) throw tooLarge(maxBodyBytes);
    const dataStart = eol + 2;
    if (buf.length < dataStart + n + 2) return undefined;
    if (buf[dataStart + n] !== 13 || buf[dataStart + n + 1] !== 10)
      throw new ProtocolError(400, 'chunk data not followed by CRLF');
    parts.push(buf.subarray(dataStart, dataStart + n));
    at = dataStart + n + 2;
  }
}

/** A body over the limit: 413 (RFC 9110 §15.5.14), with the API's code for it. */
function tooLarge(maxBodyBytes: number): ProtocolError {
  return new ProtocolError(413, `body exceeds ${maxBodyBytes} bytes`);
}

/** The JSON error response for `e`, in the API's error shape. */
function refusal(e: ProtocolError): Http1Response {
  return {
    status: e.status,
    contentType: 'application/json',
    body: JSON.stringify({ error: { code: e.code, message: e.message } }),
  };
}
