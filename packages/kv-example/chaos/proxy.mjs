// A fault-injecting TCP proxy for one directed peer link (node i dials j through it). The harness owns it, so
// partitions are real at the socket level and the nodes cannot tell: `block()` cuts open connections and refuses new
// ones, `delayMs` holds every chunk back.
import net from 'node:net';

export class LinkProxy {
  /** @param {number} listenPort @param {number} targetPort */
  constructor(listenPort, targetPort) {
    this.listenPort = listenPort;
    this.targetPort = targetPort;
    this.blocked = false;
    this.delayMs = 0;
    /** @type {Set<net.Socket>} */
    this.sockets = new Set();
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
    if (this.blocked) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const pipe = (from, to) =>
      from.on('data', (chunk) => {
        if (this.blocked) return;
        if (this.delayMs > 0) setTimeout(() => to.destroyed || to.write(chunk), this.delayMs);
        else to.write(chunk);
      });
    pipe(client, upstream);
    pipe(upstream, client);
  }

  /** Cuts the link: open connections die, new ones are refused, until `unblock()`. */
  block() {
    this.blocked = true;
    for (const s of this.sockets) s.destroy();
  }

  unblock() {
    this.blocked = false;
  }

  close() {
    this.block();
    return new Promise((resolve) => this.server.close(() => resolve(undefined)));
  }
}
