import { RaftError } from '../errors.js';
import { ByteReader, ByteWriter } from './bytes.js';

/** Options of a {@link SessionTable}. Every replica must use the same values: they decide what the log means. */
export interface SessionTableOptions {
  /**
   * A session with no activity (command, keep-alive) for more than this many ms of log time expires. Log time is the
   * largest proposer timestamp applied so far, so the limit is the same on every replica. Default 1 hour (LogCabin's).
   */
  timeoutMs?: number;
  /**
   * At most this many sessions: registering one more evicts the least recently active (the same one on every
   * replica). Default 10,000.
   */
  maxSessions?: number;
  /**
   * At most this many recorded results per session (a client that never raises `firstUnacked` must not grow the
   * table without bound): recording one more drops the lowest seq's and raises the session's `firstUnacked` past
   * it, so a retry of that seq is refused (`discarded`), never applied again. Default 1,000.
   */
  maxResultsPerSession?: number;
}

/** What a tagged command finds in the table before it is applied. */
export type CommandCheck =
  /** First time this (session, seq) is seen: apply it, then {@link SessionTable.record} its result. */
  | { status: 'new' }
  /** Applied before: answer with the recorded result (encoded), do not apply again. */
  | { status: 'duplicate'; result: Uint8Array }
  /** No such session (never registered, expired, closed or evicted): do not apply. */
  | { status: 'expired' }
  /** `seq` is below what the client said it had answers for: its result is gone; do not apply. */
  | { status: 'discarded'; firstUnacked: number };

interface Session {
  readonly id: number;
  /** Log time of the last command or keep-alive. */
  lastActive: number;
  /** Every seq below this has been answered to the client; only grows. */
  firstUnacked: number;
  /** Encoded results by seq, for seq >= firstUnacked. */
  readonly results: Map<number, Uint8Array>;
}

const TABLE_VERSION = 1;
export const DEFAULT_SESSION_TIMEOUT_MS = 60 * 60 * 1000;
export const DEFAULT_MAX_SESSIONS = 10_000;
export const DEFAULT_MAX_RESULTS_PER_SESSION = 1_000;

/**
 * The replicated client-session table of Raft dissertation §6.3: which (session, seq) pairs were applied and what
 * they returned. Pure and deterministic: it changes only through the calls the state machine makes in log order,
 * and it reads no clock (time comes from the entries). `withSessions` drives it; use it directly only to build your
 * own wrapper.
 *
 * Invariant: `sessions` iterates in ascending `lastActive` (a touched session moves to the end, and log time never
 * goes back), so expiry and eviction look only at the front, and iteration order, hence the encoded table, is the
 * same on every replica.
 *
 * @example
 * ```ts
 * const table = new SessionTable({ timeoutMs: 60_000 });
 * table.advance(entry.time);
 * const check = table.check(entry.sessionId, entry.seq, entry.firstUnacked);
 * if (check.status === 'new') table.record(entry.sessionId, entry.seq, encodeResult(applyIt()));
 * ```
 */
export class SessionTable {
  readonly timeoutMs: number;
  readonly maxSessions: number;
  readonly maxResultsPerSession: number;
  /** The largest entry time applied so far (ms); sessions expire against it. */
  logTime = 0;
  private sessions = new Map<number, Session>();

  constructor(options: SessionTableOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.maxResultsPerSession = options.maxResultsPerSession ?? DEFAULT_MAX_RESULTS_PER_SESSION;
    for (const field of ['timeoutMs', 'maxSessions', 'maxResultsPerSession'] as const) {
      const v = this[field];
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RaftError('ERR_CONFIG_INVALID', `${field} must be a positive integer, got ${v}`, field);
    }
  }

  /** Live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** True when session `id` is live. */
  has(id: number): boolean {
    return this.sessions.has(id);
  }

  /** The seqs whose results session `id` still records, in the order they were applied; undefined if not live. */
  recordedSeqs(id: number): number[] | undefined {
    const s = this.sessions.get(id);
    return s === undefined ? undefined : [...s.results.keys()];
  }

  /**
   * Moves log time to `time` if that is later, then expires every session idle for more than `timeoutMs`. Call it
   * first for every entry (a proposer's clock that is behind never moves log time back).
   */
  advance(time: number): void {
    if (time > this.logTime) this.logTime = time;
    for (const s of this.sessions.values()) {
      if (s.lastActive + this.timeoutMs >= this.logTime) break; // the rest are more recent (invariant)
      this.sessions.delete(s.id);
    }
  }

  /** Opens session `id` (the register entry's index), evicting the least recently active one when full. */
  register(id: number): void {
    if (this.sessions.has(id))
      throw new RaftError('ERR_INVALID_ARGUMENT', `session ${id} already exists`, 'id');
    for (const s of this.sessions.values()) {
      if (this.sessions.size < this.maxSessions) break;
      this.sessions.delete(s.id);
    }
    this.sessions.set(id, { id, lastActive: this.logTime, firstUnacked: 1, results: new Map() });
  }

  /**
   * What to do with command `seq` of `sessionId`. On a live session it also counts as activity and drops the
   * results below `firstUnacked` (the client has them), whatever the answer.
   */
  check(sessionId: number, seq: number, firstUnacked: number): CommandCheck {
    const s = this.touch(sessionId);
    if (s === undefined) return { status: 'expired' };
    if (firstUnacked > s.firstUnacked) {
      s.firstUnacked = firstUnacked;
      for (const q of s.results.keys()) if (q < firstUnacked) s.results.delete(q);
    }
    if (seq < s.firstUnacked) return { status: 'discarded', firstUnacked: s.firstUnacked };
    const result = s.results.get(seq);
    return result === undefined ? { status: 'new' } : { status: 'duplicate', result };
  }

  /** Records the encoded result of command `seq` of `sessionId`, after {@link check} said `new`. */
  record(sessionId: number, seq: number, result: Uint8Array): void {
    const s = this.sessions.get(sessionId);
    if (s === undefined || seq < s.firstUnacked || s.results.has(seq))
      throw new RaftError(
        'ERR_INVALID_ARGUMENT',
        `record(${sessionId}, ${seq}) without check() answering 'new' first`,
        'seq',
      );
    s.results.set(seq, result);
    if (s.results.size > this.maxResultsPerSession) {
      let lowest = seq;
      for (const q of s.results.keys()) if (q < lowest) lowest = q;
      s.results.delete(lowest);
      s.firstUnacked = lowest + 1; // every recorded seq is above `lowest`, so they all stay >= firstUnacked
    }
  }

  /** A keep-alive: true if the session is live (its activity time is now log time). */
  keepAlive(sessionId: number): boolean {
    return this.touch(sessionId) !== undefined;
  }

  /** Ends a session; true if it was live. */
  close(sessionId: number): boolean {
    return this.sessions.delete(sessionId);
  }

  /** The table as bytes (for snapshots); the same table gives the same bytes on every replica. */
  encode(): Uint8Array {
    const w = new ByteWriter().uint(TABLE_VERSION).uint(this.logTime).uint(this.sessions.size);
    for (const s of this.sessions.values()) {
      w.uint(s.id).uint(s.lastActive).uint(s.firstUnacked).uint(s.results.size);
      for (const [seq, result] of s.results) w.uint(seq).bytes(result);
    }
    return w.finish();
  }

  /**
   * Replaces the table with one {@link encode} wrote. Malformed bytes throw `ERR_DECODE` naming the field and
   * offset, and leave the table as it was.
   */
  restore(bytes: Uint8Array): void {
    const r = new ByteReader(bytes, 'session table');
    const version = r.uint('version');
    if (version !== TABLE_VERSION) r.fail('version', `unknown version ${version}`, 0);
    const logTime = r.uint('logTime');
    const count = r.uint('count');
    const sessions = new Map<number, Session>();
    let lastActivePrev = 0;
    for (let i = 0; i < count; i++) {
      const at = r.offset;
      const id = r.uint(`sessions[${i}].id`);
      const lastActive = r.uint(`sessions[${i}].lastActive`);
      const firstUnacked = r.uint(`sessions[${i}].firstUnacked`);
      const n = r.uint(`sessions[${i}].results`);
      if (id < 1 || sessions.has(id)) r.fail(`sessions[${i}].id`, `invalid or repeated id ${id}`, at);
      if (lastActive < lastActivePrev || lastActive > logTime)
        r.fail(`sessions[${i}].lastActive`, `${lastActive} is out of order (table must be by activity)`, at);
      if (firstUnacked < 1) r.fail(`sessions[${i}].firstUnacked`, 'must be >= 1', at);
      lastActivePrev = lastActive;
      const results = new Map<number, Uint8Array>();
      for (let j = 0; j < n; j++) {
        const seqAt = r.offset;
        const seq = r.uint(`sessions[${i}].results[${j}].seq`);
        if (seq < firstUnacked || results.has(seq))
          r.fail(
            `sessions[${i}].results[${j}].seq`,
            `seq ${seq} is repeated or below ${firstUnacked}`,
            seqAt,
          );
        // A copy: the snapshot's buffer should not stay alive for as long as one result does.
        results.set(seq, r.bytes(`sessions[${i}].results[${j}].result`).slice());
      }
      sessions.set(id, { id, lastActive, firstUnacked, results });
    }
    r.end('table');
    this.logTime = logTime;
    this.sessions = sessions;
  }

  /** Looks a session up and marks it active now (moving it to the end: see the class invariant). */
  private touch(sessionId: number): Session | undefined {
    const s = this.sessions.get(sessionId);
    if (s === undefined) return undefined;
    s.lastActive = this.logTime;
    this.sessions.delete(sessionId);
    this.sessions.set(sessionId, s);
    return s;
  }
}
