import net from 'node:net';
import { reservePort } from '../../../../test-support/ports.js';

/**
 * A TCP proxy on a fresh port to `target` that XORs one byte with `mask`, once: at byte `flipAt` of the first
 * client-to-target stream that carries that far (later connections pass through untouched). `close` stops it.
 */
export async function corruptingProxy(
  target: number,
  flipAt: number,
  mask: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const port = await reservePort();
  let flipped = false;
  const server = net.createServer((client) => {
    let seen = 0;
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('data', (b: Buffer) => {
      if (!flipped && seen <= flipAt && flipAt < seen + b.byteLength) {
        b.writeUInt8(b.readUInt8(flipAt - seen) ^ mask, flipAt - seen);
        flipped = true;
      }
      seen += b.byteLength;
      upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => client.write(b));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
