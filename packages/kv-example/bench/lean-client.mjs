// A lean HTTP/1.1 keep-alive client for the benchmark's load: one socket per closed-loop client, one request in
// flight on it. node:http's client costs tens of µs of CPU per request, and the load generator shares the machine's
// two cores with the servers it measures; this one parses only the status line, Content-Length or chunked framing.
import net from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

export class LeanConnection {
  /** @param {number} port */
  constructor(port) {
    this.port = port;
    this.socket = undefined;
    this.buf = Buffer.alloc(0);
    /** @type {{resolve: (status: number) => void, reject: (err: Error) => void} | undefined} */
    this.waiter = undefined;
  }

  connect() {
    const s = net.connect({ host: '127.0.0.1', port: this.port });
    s.setNoDelay(true);
    s.on('data', (d) => this.onData(d));
    const fail = (err) => {
      this.socket = undefined;
      this.buf = Buffer.alloc(0);
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(err instanceof Error ? err : new Error('connection closed'));
    };
    s.on('error', fail);
    s.on('close', () => fail(new Error('connection closed')));
    this.socket = s;
  }

  /** Sends one request; resolves with the response status once the whole response arrived. */
  request(method, path, body) {
    if (this.socket === undefined) this.connect();
    const head =
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${this.port}\r\n` +
      (body !== undefined
        ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
        : '\r\n');
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.write(head);
    });
  }

  onData(chunk) {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const end = this.buf.indexOf(CRLF2);
    if (end < 0) return;
    const header = this.buf.toString('latin1', 0, end);
    const status = Number(header.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(header);
    let total;
    if (m !== null) {
      total = end + 4 + Number(m[1]);
      if (this.buf.length < total) return;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(header)) {
      const last = this.buf.indexOf('\r\n0\r\n\r\n', end);
      const first = this.buf.indexOf('0\r\n\r\n', end + 4);
      if (first === end + 4) total = end + 4 + 5;
      else if (last >= 0) total = last + 7;
      else return;
    } else total = end + 4;
    this.buf = this.buf.subarray(total);
    const w = this.waiter;
    this.waiter = undefined;
    w?.resolve(status);
  }

  close() {
    this.socket?.destroy();
  }
}
