// Test harness for the Raft state machine itself (mirrors etcd's raft_test.go helpers): a Raft over a
// MemoryStorage, a way to read what it sends, and a synchronous network of them.
import { Raft } from '../../src/raft/raft.js';
import { MessageType, type Entry, type Message } from '../../src/raftpb/types.js';
import { MemoryStorage } from '../../src/storage/memory-storage.js';
import { seededRandom } from '../../src/random.js';
import type { Config } from '../../src/config.js';

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A MemoryStorage whose configuration has the given voters (and learners). */
export function storageWith(voters: number[], learners: number[] = []): MemoryStorage {
  return new MemoryStorage({
    confState: { voters, learners, votersOutgoing: [], learnersNext: [], autoLeave: false },
  });
}

export function newTestRaft(
  id: number,
  election: number,
  heartbeat: number,
  storage: MemoryStorage,
  extra: Partial<Config> = {},
): Raft {
  return new Raft({
    id,
    electionTick: election,
    heartbeatTick: heartbeat,
    storage,
    maxInflightMsgs: 256,
    random: seededRandom(id),
    ...extra,
  });
}

/** Steps the messages a node sent itself (its own votes and append acknowledgements), as advance() would. */
export function advanceMessagesAfterAppend(r: Raft): void {
  for (;;) {
    const msgs = r.msgsAfterAppend;
    if (msgs.length === 0) return;
    r.msgsAfterAppend = [];
    for (const m of msgs) {
      if (m.to === r.id) r.step(m);
      else r.msgs.push(m);
    }
  }
}

/** What the node would send now, with self-addressed messages already stepped. */
export function readMessages(r: Raft): Message[] {
  advanceMessagesAfterAppend(r);
  const msgs = r.msgs;
  r.msgs = [];
  return msgs;
}

/**
 * Persists the unstable log into storage, hands the committed entries to `apply`, marks them applied (as
 * advance() does, after applying), and returns them.
 */
export function nextEnts(r: Raft, s: MemoryStorage, apply: (e: Entry) => void = () => undefined): Entry[] {
  const unstable = r.raftLog.nextUnstableEnts();
  s.append(unstable);
  const last = unstable[unstable.length - 1];
  r.raftLog.acceptUnstable();
  if (last !== undefined) r.raftLog.stableTo(last.index, last.term);
  advanceMessagesAfterAppend(r);
  const ents = r.raftLog.nextCommittedEnts(true);
  for (const e of ents) apply(e);
  const lastC = ents[ents.length - 1];
  if (lastC !== undefined) r.appliedTo(lastC.index, 0);
  return ents;
}

export function msg(over: Partial<Message> & { type: MessageType }): Message {
  return {
    to: 0,
    from: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...over,
  };
}

export function ents(...terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, type: 0, data: new Uint8Array(0) }));
}

/** A Raft whose log (in storage) holds entries with the given terms, and whose term is the last of them. */
export function raftWithLog(id: number, peers: number[], terms: number[], extra: Partial<Config> = {}): Raft {
  const s = storageWith(peers);
  s.append(ents(...terms));
  const r = newTestRaft(id, 10, 1, s, extra);
  r.reset(terms[terms.length - 1] ?? 0);
  return r;
}

/**
 * A synchronous network of Rafts (etcd's `network`): `send` delivers messages, and every message they cause, until
 * quiet; links can be cut, nodes isolated, and message types ignored. Nodes keep their logs in their storage.
 */
export class Network {
  readonly peers = new Map<number, Raft>();
  readonly storage = new Map<number, MemoryStorage>();
  private readonly dropped = new Set<string>();
  private readonly ignored = new Set<MessageType>();

  constructor(
    ids: number[],
    configure: (id: number) => Partial<Config> = () => ({}),
    /** Pre-built nodes by id (their storage is not tracked). */
    prebuilt: ReadonlyMap<number, Raft> = new Map(),
  ) {
    for (const id of ids) {
      const pre = prebuilt.get(id);
      if (pre !== undefined) {
        this.peers.set(id, pre);
        continue;
      }
      const s = storageWith(ids);
      this.storage.set(id, s);
      this.peers.set(id, newTestRaft(id, 10, 1, s, configure(id)));
    }
  }

  send(...msgs: Message[]): void {
    const queue = [...msgs];
    while (queue.length > 0) {
      const m = queue.shift()!;
      const p = this.peers.get(m.to);
      if (p === undefined) continue;
      try {
        p.step(m);
      } catch {
        // a dropped proposal, as a real node would report to its caller
      }
      queue.push(...this.filter(readMessages(p)));
    }
  }

  /** Starts an election on `id`. */
  campaign(id: number): void {
    this.send(msg({ from: id, to: id, type: MessageType.MsgHup }));
  }

  propose(id: number, data = enc('somedata')): void {
    this.send(
      msg({ from: id, to: id, type: MessageType.MsgProp, entries: [{ term: 0, index: 0, type: 0, data }] }),
    );
  }

  cut(a: number, b: number): void {
    this.dropped.add(`${a}:${b}`);
    this.dropped.add(`${b}:${a}`);
  }

  isolate(id: number): void {
    for (const other of this.peers.keys()) if (other !== id) this.cut(id, other);
  }

  ignore(t: MessageType): void {
    this.ignored.add(t);
  }

  recover(): void {
    this.dropped.clear();
    this.ignored.clear();
  }

  private filter(msgs: Message[]): Message[] {
    return msgs.filter(
      (m) =>
        !this.ignored.has(m.type) && !this.dropped.has(`${m.from}:${m.to}`) && m.type !== MessageType.MsgHup,
    );
  }
}
