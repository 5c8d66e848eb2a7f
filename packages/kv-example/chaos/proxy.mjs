// A fault-injecting TCP proxy in front of one node's peer port. Every peer dials a node through its proxy (the
// addresses in --peers and in the replicated member table are proxy addresses), so partitions are real at the socket
// level and the nodes cannot tell. The proxy reads the peer handshake (the first frame: [u32 BE length][u8 kind]
// [JSON {from, ...}]) to learn which node is dialing, so it can cut or slow exact directed links, including links of
// members added during a run.
import net from 'node:net';

const HELLO_KIND = 1;
const MAX_HELLO = 64 * 1024;

export class FrontProxy {
  /** @param {number} listenPort where peers dial @param {number} targetPort the node's real peer port */
  constructor(listenPort, targetPort) {
    this.listenPort = listenPort;
    this.targetPort = targetPort;
    /** Sources whose link into this node is cut. @type {Set<number>} */
    this.blockedFrom = new Set();
    /** Extra latency per source, in ms, on both directions of its connections. @type {Map<number, number>} */
    this.delayFrom = new Map();
    /** @type {Set<{from: number | undefined, sockets: net.Socket[]}>} */
    this.conns = new Set();
    this.server = net.createServer((client) => this.accept(client));
  }

  start() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.listenPort, '127.0.0.1', () => resolve(undefined));
    });
  }

  /** @param {net.Socket} client */
  accept(client) {
    const conn = { from: undefined, sockets: [client] };
    this.conns.add(conn);
    const closeAll = () => {
      this.conns.delete(conn);
      for (const s of conn.sockets) s.destroy();
    };
    client.on('error', () => undefined);
    client.on('close', closeAll);
    let head = Buffer.alloc(0);
    const onHead = (chunk) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 5) return;
      const len = head.readUInt32BE(0);
      if (head[4] !== HELLO_KIND || len > MAX_HELLO)
        return this.connect(conn, client, head, closeAll, onHead);
      if (head.length < 4 + len) return;
      try {
        conn.from = JSON.parse(head.subarray(5, 4 + len).toString('utf8')).from;
      } catch {
        // Not a handshake we can read: pass it on; the node refuses it.
      }
      this.connect(conn, client, head, closeAll, onHead);
    };
    client.on('data', onHead);
  }

  /** Opens the upstream connection once the dialer is known (or refuses it when its link is cut). */
  connect(conn, client, head, closeAll, onHead) {
    client.off('data', onHead);
    if (conn.from !== undefined && this.blockedFrom.has(conn.from)) {
      closeAll();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
    conn.sockets.push(upstream);
    upstream.on('error', () => undefined);
    upstream.on('close', closeAll);
    const forward = this.pipe(conn, client, upstream);
    forward(head);
    client.on('data', forward);
    upstream.on('data', this.pipe(conn, upstream, client));
  }

  /** A writer from one socket to the other that keeps byte order under a changing delay. */
  pipe(conn, from, to) {
    let lastDue = 0;
    return (chunk) => {
      if (conn.from !== undefined && this.blockedFrom.has(conn.from)) return;
      const delay = conn.from === undefined ? 0 : (this.delayFrom.get(conn.from) ?? 0);
      if (delay === 0 && lastDue <= performance.now()) {
        to.write(chunk);
        return;
      }
      const due = Math.max(performance.now() + delay, lastDue);
      lastDue = due;
      setTimeout(() => to.destroyed || to.write(chunk), due - performance.now());
    };
  }

  /** Cuts the link from node `from` into this node: its open connections die and new ones are refused. */
  block(from) {
    this.blockedFrom.add(from);
    for (const c of this.conns) if (c.from === from) for (const s of c.sockets) s.destroy();
  }

  /** Slows the link from node `from` by `ms` (0 removes the delay). */
  delay(from, ms) {
    if (ms > 0) this.delayFrom.set(from, ms);
    else this.delayFrom.delete(from);
  }

  heal() {
    this.blockedFrom.clear();
    this.delayFrom.clear();
  }

  close() {
    for (const c of this.conns) for (const s of c.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve(undefined)));
  }
}
