import type net from 'node:net';
import type tls from 'node:tls';

/** A connection a TLS server refused in its handshake: who, and why in words an operator can act on. */
export interface TlsRefusal {
  /** `address:port` of the dialer (`?:?` when Node could not tell). */
  remote: string;
  /** Why: the certificate check that failed, or OpenSSL's reason. */
  reason: string;
  /** Node's or OpenSSL's code (e.g. `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE`). */
  code?: string;
}

/**
 * Calls `onRefused` for each connection `server` refuses in the TLS handshake: a dialer with no certificate, one
 * whose certificate does not chain to the server's CA, one that speaks no TLS. Node reports the untrusted
 * certificate only as the socket's `authorizationError` with a bare "socket hang up" error, and by then the socket
 * no longer knows its peer's address; this reads both where they are.
 *
 * @example
 * ```ts
 * const server = tls.createServer({ cert, key, ca, requestCert: true, rejectUnauthorized: true }, serve);
 * watchTlsRefusals(server, (r) => logger.warn('refused peer connection', { ...r }));
 * ```
 */
export function watchTlsRefusals(server: tls.Server, onRefused: (refusal: TlsRefusal) => void): void {
  // The remote address, read from the plain socket while it is open (once the handshake fails it is gone).
  const remotes = new WeakMap<net.Socket, string>();
  server.on('connection', (raw: net.Socket) =>
    remotes.set(raw, `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`),
  );
  server.on('tlsClientError', (err: Error & { code?: string; reason?: string }, socket: tls.TLSSocket) => {
    // The TLS socket's plain socket: Node keeps it as `_parent` (not a public field; `?:?` if it ever goes).
    const raw = (socket as unknown as { _parent?: net.Socket })._parent;
    const remote = (raw !== undefined ? remotes.get(raw) : undefined) ?? '?:?';
    const authError = (socket as { authorizationError?: Error | string | null }).authorizationError;
    if (authError !== undefined && authError !== null) {
      const code = typeof authError === 'string' ? authError : ((authError as { code?: string }).code ?? '');
      onRefused({ remote, reason: `certificate not trusted (${code || String(authError)})`, code });
      return;
    }
    onRefused({
      remote,
      // Node's client drops a server it does not trust without a TLS alert: all the server sees is the close.
      reason:
        err.code === 'ECONNRESET'
          ? 'the dialer closed the connection in the handshake (does it trust this server’s certificate?)'
          : (err.reason ?? err.message),
      ...(err.code !== undefined ? { code: err.code } : {}),
    });
  });
}
