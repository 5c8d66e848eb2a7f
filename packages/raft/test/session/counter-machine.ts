// A small application state machine for the session tests: `key` commands increment a counter and return its new
// value; it counts how often each command id was applied, which is what exactly-once is about.
import { readSnapshotBytes } from '../../src/codec/chunk-reader.js';
import type { SnapshotMetadata } from '../../src/raftpb/types.js';
import type { ResultCodec, SessionAwareStateMachine } from '../../src/session/with-sessions.js';

const text = new TextEncoder();
const untext = new TextDecoder();

/** A command: increment `key`; `id` names the command so its applications can be counted. */
export function incr(key: string, id: string): Uint8Array {
  return text.encode(JSON.stringify([key, id]));
}

export const numberCodec: ResultCodec<number> = {
  encode: (n) => text.encode(String(n)),
  decode: (b) => Number(untext.decode(b)),
};

export class CounterMachine implements SessionAwareStateMachine<number> {
  counters = new Map<string, number>();
  /** How many times each command id was applied, on this replica (restores keep it: it is the test's ledger). */
  readonly appliedTimes = new Map<string, number>();

  apply(data: Uint8Array): number {
    const [key, id] = JSON.parse(untext.decode(data)) as [string, string];
    this.appliedTimes.set(id, (this.appliedTimes.get(id) ?? 0) + 1);
    const v = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, v);
    return v;
  }

  snapshot(): Uint8Array {
    return text.encode(JSON.stringify([...this.counters]));
  }

  async restore(chunks: AsyncIterable<Uint8Array>, _metadata: SnapshotMetadata): Promise<void> {
    this.counters = new Map(JSON.parse(untext.decode(await readSnapshotBytes(chunks))) as [string, number][]);
  }
}

export const meta = (index: number): SnapshotMetadata => ({
  index,
  term: 1,
  confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
});
