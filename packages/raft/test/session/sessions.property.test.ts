// Property test of the session layer against a naive reference model: logs of registers, tagged commands and their
// duplicated, reordered and delayed retries, keep-alives, closes, untagged commands and commands of sessions that do
// not exist, stamped by proposers with skewed clocks. Every entry's outcome must equal the model's (so each
// (session, seq) applies at most once and a duplicate gets the first answer), and a replica that snapshots and
// restores at random points must answer every entry alike and end with the same snapshot bytes.
// A failure prints fast-check's seed and path; rerun exactly that case with FC_SEED=<seed> FC_PATH=<path>
// (FC_RUNS=<n> runs more cases).
import { readSnapshotBytes, snapshotChunks, type SnapshotChunks } from '../../src/codec/chunk-reader.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSessionEntry,
  encodeCloseSession,
  encodeKeepAlive,
  encodeRegisterSession,
  encodeSessionCommand,
  encodeUntaggedCommand,
} from '../../src/session/entry.js';
import { withSessions, type SessionResult } from '../../src/session/with-sessions.js';
import { fcParams } from '../quorum/fc-params.js';
import { CounterMachine, incr, meta, numberCodec } from './counter-machine.js';

type Op =
  | { t: 'register'; client: number }
  | { t: 'cmd'; client: number; retry: number | null; ackLag: number; key: string }
  | { t: 'keepAlive'; client: number }
  | { t: 'close'; client: number }
  | { t: 'untagged'; key: string }
  | { t: 'bogus'; sessionId: number };

const key = fc.constantFrom('a', 'b');
const client = fc.integer({ min: 0, max: 2 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ t: fc.constant('register' as const), client }) },
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('cmd' as const),
      client,
      // null: the client's next command; a number: a retry of one of its earlier commands (picked modulo).
      retry: fc.option(fc.nat(), { freq: 2 }),
      ackLag: fc.nat({ max: 3 }),
      key,
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('keepAlive' as const), client }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('close' as const), client }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('untagged' as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('bogus' as const), sessionId: fc.integer({ min: 1, max: 60 }) }),
  },
);
const stepArb = fc.record({
  op: opArb,
  advance: fc.nat({ max: 800 }),
  skew: fc.integer({ min: -300, max: 300 }),
});

/** Turns ops into log entries (index = position + 1), as clients that retry with the same tag would propose them. */
function buildLog(steps: { op: Op; advance: number; skew: number }[]): Uint8Array[] {
  const log: Uint8Array[] = [];
  const clients = new Map<
    number,
    { session: number; nextSeq: number; sent: { seq: number; data: Uint8Array }[] }
  >();
  let clock = 1_000;
  let u = 0;
  for (const { op, advance, skew } of steps) {
    clock += advance;
    const time = Math.max(0, clock + skew);
    const index = log.length + 1;
    const c = 'client' in op ? clients.get(op.client) : undefined;
    const session = c?.session ?? 999; // a client without a session uses an id no entry has
    switch (op.t) {
      case 'register':
        clients.set(op.client, { session: index, nextSeq: 1, sent: [] });
        log.push(encodeRegisterSession(time));
        break;
      case 'cmd': {
        const state = c ?? { session, nextSeq: 1, sent: [] };
        if (c === undefined) clients.set(op.client, state);
        const old =
          op.retry !== null && state.sent.length > 0 ? state.sent[op.retry % state.sent.length] : undefined;
        const seq = old?.seq ?? state.nextSeq++;
        const data = old?.data ?? incr(op.key, `s${state.session}-${seq}`);
        if (old === undefined) state.sent.push({ seq, data });
        const firstUnacked = Math.max(1, seq - op.ackLag);
        log.push(encodeSessionCommand({ sessionId: state.session, seq, firstUnacked }, data, time));
        break;
      }
      case 'keepAlive':
        log.push(encodeKeepAlive(session, time));
        break;
      case 'close':
        log.push(encodeCloseSession(session, time));
        break;
      case 'untagged':
        log.push(encodeUntaggedCommand(incr(op.key, `u${u++}`), time));
        break;
      case 'bogus':
        log.push(encodeSessionCommand({ sessionId: op.sessionId + 1_000, seq: 1 }, incr('a', 'bogus'), time));
        break;
    }
  }
  return log;
}

/** The session rules written the obvious way: scan everything, evict by a touch counter. */
class Reference {
  logTime = 0;
  private touches = 0;
  private readonly sessions = new Map<
    number,
    { lastActive: number; touched: number; firstUnacked: number; results: Map<number, number> }
  >();
  private readonly app = new CounterMachine();
  constructor(
    private readonly timeoutMs: number,
    private readonly maxSessions: number,
    private readonly maxResults: number,
  ) {}

  get appliedTimes(): ReadonlyMap<string, number> {
    return this.app.appliedTimes;
  }

  step(data: Uint8Array, index: number): SessionResult<number> {
    const e = decodeSessionEntry(data);
    this.logTime = Math.max(this.logTime, e.time);
    for (const [id, s] of [...this.sessions])
      if (s.lastActive + this.timeoutMs < this.logTime) this.sessions.delete(id);
    const touch = (id: number) => {
      const s = this.sessions.get(id);
      if (s !== undefined) Object.assign(s, { lastActive: this.logTime, touched: ++this.touches });
      return s;
    };
    const expired = (sessionId: number): SessionResult<number> => ({
      kind: 'error',
      code: 'ERR_SESSION_EXPIRED',
      sessionId,
      message: expect.any(String) as string,
    });
    switch (e.kind) {
      case 'untagged':
        return { kind: 'result', result: this.app.apply(e.payload), duplicate: false };
      case 'register': {
        if (this.sessions.size >= this.maxSessions) {
          const [oldest] = [...this.sessions].sort((x, y) => x[1].touched - y[1].touched)[0]!;
          this.sessions.delete(oldest);
        }
        this.sessions.set(index, {
          lastActive: this.logTime,
          touched: ++this.touches,
          firstUnacked: 1,
          results: new Map(),
        });
        return { kind: 'registered', sessionId: index };
      }
      case 'keepAlive':
        return touch(e.sessionId) ? { kind: 'keptAlive', sessionId: e.sessionId } : expired(e.sessionId);
      case 'close':
        return this.sessions.delete(e.sessionId)
          ? { kind: 'closed', sessionId: e.sessionId }
          : expired(e.sessionId);
      case 'command': {
        const s = touch(e.sessionId);
        if (s === undefined) return expired(e.sessionId);
        s.firstUnacked = Math.max(s.firstUnacked, e.firstUnacked);
        for (const seq of [...s.results.keys()]) if (seq < s.firstUnacked) s.results.delete(seq);
        if (e.seq < s.firstUnacked)
          return {
            kind: 'error',
            code: 'ERR_SESSION_RESPONSE_DISCARDED',
            sessionId: e.sessionId,
            message: expect.any(String) as string,
          };
        const recorded = s.results.get(e.seq);
        if (recorded !== undefined) return { kind: 'result', result: recorded, duplicate: true };
        const result = this.app.apply(e.payload);
        s.results.set(e.seq, result);
        if (s.results.size > this.maxResults) {
          const lowest = Math.min(...s.results.keys());
          s.results.delete(lowest);
          s.firstUnacked = lowest + 1;
        }
        return { kind: 'result', result, duplicate: false };
      }
    }
  }
}

async function bytesOf(p: SnapshotChunks | Promise<SnapshotChunks>): Promise<Uint8Array> {
  return readSnapshotBytes(await p);
}

describe('sessions (property)', () => {
  it('apply each (session, seq) at most once, answer duplicates with the first result, and agree across snapshot/restore', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 120, size: 'max' }),
        fc.constantFrom(1_000, 3_000, 1_000_000),
        fc.constantFrom(2, 3, 100),
        fc.constantFrom(1, 2, 1_000),
        fc.uniqueArray(fc.nat({ max: 123 }), { maxLength: 4 }),
        async (body, timeoutMs, maxSessions, maxResultsPerSession, snapshotAt) => {
          // Every client starts with a session; later registers replace it.
          const opening = [0, 1, 2].map((c): { op: Op; advance: number; skew: number } => ({
            op: { t: 'register', client: c },
            advance: 0,
            skew: 0,
          }));
          const log = buildLog([...opening, ...body]);
          const ref = new Reference(timeoutMs, maxSessions, maxResultsPerSession);
          const options = { results: numberCodec, timeoutMs, maxSessions, maxResultsPerSession };
          const straightApp = new CounterMachine();
          const straight = withSessions(straightApp, options);
          let restarted = withSessions(new CounterMachine(), options);
          for (let i = 0; i < log.length; i++) {
            const index = i + 1;
            const expected = ref.step(log[i]!, index);
            expect(straight.apply(log[i]!, index)).toEqual(expected);
            expect(restarted.apply(log[i]!, index)).toEqual(expected);
            if (snapshotAt.includes(index)) {
              const snap = await bytesOf(restarted.snapshot());
              restarted = withSessions(new CounterMachine(), options);
              await restarted.restore(snapshotChunks(snap), meta(index));
            }
          }
          // At most once: a tagged command (id s<session>-<seq>) never applies twice.
          for (const [id, times] of straightApp.appliedTimes)
            if (id.startsWith('s')) expect(times, id).toBe(1);
          expect(straightApp.appliedTimes).toEqual(ref.appliedTimes);
          expect(await bytesOf(restarted.snapshot())).toEqual(await bytesOf(straight.snapshot()));
        },
      ),
      fcParams(300),
    );
  });
});
