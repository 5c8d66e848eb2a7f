import { crc32 } from 'node:zlib';
import type { SnapshotMetadata } from '../raftpb/types.js';
import type { StateMachine } from '../node/types.js';

/**
 * A state machine whose state is large and held outside the JS heap (as a store on disk would be): `sizeBytes`
 * deterministic bytes derived from `seed`, plus a counter of applied entries. `snapshot()` generates the bytes in
 * chunks as they are read, and `restore` consumes the stream chunk by chunk, checking size and CRC-32, so neither
 * ever holds the state whole. For tests and benchmarks of streaming snapshots (a 1 GiB state costs no memory).
 *
 * Snapshot layout: u64 BE size, u32 BE seed, u32 BE applied count, then `size` bytes of {@link blobBytes}.
 *
 * @example
 * ```ts
 * const sm = new BlobMachine(256 * 1024 * 1024, 7);
 * const node = await RaftNode.start({ ...options, stateMachine: sm });
 * // on a member that installed the leader's snapshot: sm.restoredBytes === 256 MiB, checked byte for byte
 * ```
 */
export class BlobMachine implements StateMachine<number> {
  /** Entries applied since the state was generated or restored (travels in the snapshot header). */
  applied = 0;
  /** Bytes the last `restore` read and checked (0 before any). */
  restoredBytes = 0;
  /** Number of restores. */
  restores = 0;

  constructor(
    /** Size of the generated state. */
    public sizeBytes: number,
    public seed: number,
    private readonly chunkBytes = 1024 * 1024,
  ) {}

  apply(): number {
    return ++this.applied;
  }

  snapshot(): AsyncIterable<Uint8Array> {
    const { sizeBytes, seed, applied, chunkBytes } = this; // the view now, between two applies
    return (async function* () {
      const head = new Uint8Array(16);
      const view = new DataView(head.buffer);
      view.setBigUint64(0, BigInt(sizeBytes));
      view.setUint32(8, seed);
      view.setUint32(12, applied);
      yield head;
      for (let at = 0; at < sizeBytes; at += chunkBytes)
        yield blobBytes(seed, at, Math.min(chunkBytes, sizeBytes - at));
    })();
  }

  async restore(data: AsyncIterable<Uint8Array>, metadata: SnapshotMetadata): Promise<void> {
    let head = new Uint8Array(0);
    let size = -1;
    let seed = 0;
    let applied = 0;
    let at = 0;
    for await (const chunk of data) {
      let rest = chunk;
      if (size < 0) {
        const joined = new Uint8Array(head.byteLength + rest.byteLength);
        joined.set(head);
        joined.set(rest, head.byteLength);
        if (joined.byteLength < 16) {
          head = joined;
          continue;
        }
        const view = new DataView(joined.buffer, joined.byteOffset, 16);
        size = Number(view.getBigUint64(0));
        seed = view.getUint32(8);
        applied = view.getUint32(12);
        rest = joined.subarray(16);
      }
      if (rest.byteLength === 0) continue;
      if (at + rest.byteLength > size)
        throw new Error(`blob snapshot at ${metadata.index}: more than ${size} bytes`);
      if (crc32(rest) !== crc32(blobBytes(seed, at, rest.byteLength)))
        throw new Error(`blob snapshot at ${metadata.index}: bytes at offset ${at} differ from the state`);
      at += rest.byteLength;
    }
    if (size < 0 || at !== size)
      throw new Error(`blob snapshot at ${metadata.index}: ${at} bytes, its header says ${size}`);
    this.sizeBytes = size;
    this.seed = seed;
    this.applied = applied;
    this.restoredBytes = at;
    this.restores++;
  }
}

/** `length` bytes of the state of `seed` from `offset`: byte i is a multiplicative hash of `offset + i`. */
export function blobBytes(seed: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.imul((offset + i) ^ seed, 2654435761) >>> 24;
  return out;
}
