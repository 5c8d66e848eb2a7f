import { UsageError } from './usage.js';

/** Parses `--peers 1=127.0.0.1:7001/127.0.0.1:8001,2=...` (id=peerAddr/clientAddr) into a map. */
export function parsePeers(spec: string): Map<number, { peer: string; client: string }> {
  const out = new Map<number, { peer: string; client: string }>();
  for (const part of spec.split(',').filter((p) => p.trim().length > 0)) {
    const m = /^(\d+)=([^/]+:\d+)\/([^/]+:\d+)$/.exec(part.trim());
    if (m === null)
      throw new UsageError(
        `bad --peers entry ${JSON.stringify(part)}: expected id=peerHost:port/clientHost:port`,
      );
    const id = Number(m[1]);
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new UsageError(`bad member id in ${JSON.stringify(part)}`);
    if (out.has(id)) throw new UsageError(`member id ${id} appears twice in --peers`);
    out.set(id, { peer: m[2] ?? '', client: m[3] ?? '' });
  }
  if (out.size === 0) throw new UsageError('--peers lists no members');
  return out;
}

/** The inverse of {@link parsePeers}. */
export function formatPeers(peers: ReadonlyMap<number, { peer: string; client: string }>): string {
  return [...peers].map(([id, a]) => `${id}=${a.peer}/${a.client}`).join(',');
}
