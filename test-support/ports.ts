// Shared by the packages' tests that run servers (kv-example e2e, raft's TCP transport).
import net from 'node:net';

// Ports for the e2e tests' servers. Asking the kernel for a free ephemeral port and releasing it (listen(0) and
// close) races with every outgoing connection on the machine, which takes its local port from that same range
// (32768-60999 on Linux): a node could then fail to bind, or a peer dial the wrong process. So the tests take
// ports below that range, in a block of their own per test worker (VITEST_POOL_ID is unique among the workers
// running at one time), and check each one binds before handing it out.

const FIRST = 20_000;
const BLOCK = 600;
const BLOCKS = 20; // 20,000-32,000: below the ephemeral range

const pool = Number(process.env.VITEST_POOL_ID ?? '1');
const blockStart = FIRST + ((Number.isSafeInteger(pool) ? pool : 1) % BLOCKS) * BLOCK;
// Files that run one after another in the same worker slot start at different places in the block.
let next = process.pid % BLOCK;

function binds(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port on 127.0.0.1 that no other test worker hands out and that bound a moment ago. */
export async function reservePort(): Promise<number> {
  for (let tries = 0; tries < BLOCK; tries++) {
    const port = blockStart + (next++ % BLOCK);
    if (await binds(port)) return port;
  }
  throw new Error(`no free port in ${blockStart}-${blockStart + BLOCK - 1}`);
}

/** `count` consecutive-numbered ports spaced `stride` apart from a base, all free (for `x-kv cluster`). */
export async function reservePortRun(count: number, stride: number): Promise<number> {
  for (let tries = 0; tries < BLOCK; tries++) {
    const base = blockStart + (next % BLOCK);
    next += count * stride + 1;
    if (base + count * stride + 1 >= blockStart + BLOCK) continue;
    let ok = true;
    for (let i = 1; i <= count && ok; i++)
      ok = (await binds(base + i * stride)) && (await binds(base + i * stride + 1));
    if (ok) return base;
  }
  throw new Error(`no free run of ${count} ports in ${blockStart}-${blockStart + BLOCK - 1}`);
}
