import { RaftError } from '../errors.js';
import { ByteReader, ByteWriter } from './bytes.js';

// The session envelope every entry of a state machine wrapped by `withSessions` carries:
//   [0xC1][kind][varint time] then, by kind,
//   untagged  (0): payload...                                  a command applied without deduplication
//   register  (1): (nothing)                                   opens a session; its id is this entry's index
//   command   (2): [session][seq][firstUnacked] payload...     applied at most once per (session, seq)
//   keepAlive (3): [session]                                   refreshes the session's activity time
//   close     (4): [session]                                   ends the session, dropping its recorded results
// `time` is the proposer's wall clock in ms: replicas never read their own clock; they expire sessions by the
// largest time seen in the log so far (Raft dissertation §6.3, LogCabin's cluster time). 0xC1 is the one byte
// msgpack never uses, so an envelope can never be mistaken for a msgpack-encoded command or the reverse.

const MAGIC = 0xc1;
const KIND = { untagged: 0, register: 1, command: 2, keepAlive: 3, close: 4 } as const;

/** Which command of which session an entry is: `seq` is applied at most once within `sessionId`. */
export interface SessionTag {
  /** The id `register` returned (the log index of the session's register entry). */
  sessionId: number;
  /** The client's sequence number for this command: >= 1, a new one per command, the same on every retry. */
  seq: number;
  /**
   * The lowest sequence number the client has not yet seen an answer for (<= `seq`): every recorded result below
   * it can be discarded. Default `seq` (a client with one command in flight at a time).
   */
  firstUnacked?: number;
}

/** A decoded session envelope. */
export type SessionEntry =
  | { kind: 'untagged'; time: number; payload: Uint8Array }
  | { kind: 'register'; time: number }
  | {
      kind: 'command';
      time: number;
      sessionId: number;
      seq: number;
      firstUnacked: number;
      payload: Uint8Array;
    }
  | { kind: 'keepAlive'; time: number; sessionId: number }
  | { kind: 'close'; time: number; sessionId: number };

function positive(v: number, field: string): number {
  if (!Number.isSafeInteger(v) || v < 1)
    throw new RaftError('ERR_INVALID_ARGUMENT', `${field} must be a positive safe integer, got ${v}`, field);
  return v;
}

function header(kind: number, time: number): ByteWriter {
  if (!Number.isSafeInteger(time) || time < 0)
    throw new RaftError(
      'ERR_INVALID_ARGUMENT',
      `time must be a non-negative safe integer (ms), got ${time}`,
      'time',
    );
  return new ByteWriter().raw(Uint8Array.of(MAGIC, kind)).uint(time);
}

/**
 * The entry that opens a session. Propose it; the state machine answers `{ kind: 'registered', sessionId }`, the
 * id to tag commands with. `time` is the proposer's clock (ms since the epoch).
 *
 * @example
 * ```ts
 * const out = await node.proposeForResult(encodeRegisterSession(Date.now()));
 * if (out.result.kind === 'registered') sessionId = out.result.sessionId;
 * ```
 */
export function encodeRegisterSession(time: number): Uint8Array {
  return header(KIND.register, time).finish();
}

/**
 * `payload` (the application's command) tagged with its session and sequence number. Propose the same bytes, or
 * the same tag with a new `time`, to retry a command whose outcome is unknown: it is applied at most once.
 * Throws `ERR_INVALID_ARGUMENT` for a tag that is not positive integers or whose `firstUnacked` exceeds `seq`.
 *
 * @example
 * ```ts
 * const data = encodeSessionCommand({ sessionId, seq: 7 }, encodeMyCommand(cmd), Date.now());
 * ```
 */
export function encodeSessionCommand(tag: SessionTag, payload: Uint8Array, time: number): Uint8Array {
  const seq = positive(tag.seq, 'seq');
  const firstUnacked = positive(tag.firstUnacked ?? seq, 'firstUnacked');
  if (firstUnacked > seq)
    throw new RaftError(
      'ERR_INVALID_ARGUMENT',
      `firstUnacked ${firstUnacked} exceeds seq ${seq}: a command cannot be answered before it is sent`,
      'firstUnacked',
    );
  return header(KIND.command, time)
    .uint(positive(tag.sessionId, 'sessionId'))
    .uint(seq)
    .uint(firstUnacked)
    .raw(payload)
    .finish();
}

/**
 * `payload` without a session: applied every time it appears in the log (no deduplication).
 *
 * @example
 * ```ts
 * await node.propose(encodeUntaggedCommand(encodeMyCommand(cmd), Date.now()));
 * ```
 */
export function encodeUntaggedCommand(payload: Uint8Array, time: number): Uint8Array {
  return header(KIND.untagged, time).raw(payload).finish();
}

/**
 * Refreshes session `sessionId`'s activity time (a client idle for long sends it so its session does not expire).
 *
 * @example
 * ```ts
 * const out = (await node.proposeForResult(encodeKeepAlive(sessionId, Date.now()))).result; // { kind: 'keptAlive' }
 * ```
 */
export function encodeKeepAlive(sessionId: number, time: number): Uint8Array {
  return header(KIND.keepAlive, time).uint(positive(sessionId, 'sessionId')).finish();
}

/**
 * Ends session `sessionId`: its recorded results are dropped and later commands in it are refused.
 *
 * @example
 * ```ts
 * await node.propose(encodeCloseSession(sessionId, Date.now()));
 * ```
 */
export function encodeCloseSession(sessionId: number, time: number): Uint8Array {
  return header(KIND.close, time).uint(positive(sessionId, 'sessionId')).finish();
}

/**
 * Decodes a session envelope. Anything else (a foreign or corrupt entry) throws `RaftError` `ERR_DECODE` naming the
 * field and byte offset. The payloads are views into `data`, not copies.
 *
 * @example
 * ```ts
 * const e = decodeSessionEntry(entry.data);
 * if (e.kind === 'command') console.log(e.sessionId, e.seq, e.time);
 * ```
 */
export function decodeSessionEntry(data: Uint8Array): SessionEntry {
  const r = new ByteReader(data, 'session entry');
  if (r.byte('magic') !== MAGIC)
    r.fail('magic', `expected 0xc1, got 0x${(data[0] ?? 0).toString(16)} (not a session entry)`, 0);
  const kind = r.byte('kind');
  const time = r.uint('time');
  const session = (): number => {
    const at = r.offset;
    const id = r.uint('sessionId');
    if (id < 1) r.fail('sessionId', 'must be >= 1', at);
    return id;
  };
  switch (kind) {
    case KIND.untagged:
      return { kind: 'untagged', time, payload: r.rest() };
    case KIND.register:
      r.end('register');
      return { kind: 'register', time };
    case KIND.command: {
      const sessionId = session();
      const seqAt = r.offset;
      const seq = r.uint('seq');
      if (seq < 1) r.fail('seq', 'must be >= 1', seqAt);
      const ackAt = r.offset;
      const firstUnacked = r.uint('firstUnacked');
      if (firstUnacked < 1 || firstUnacked > seq)
        r.fail('firstUnacked', `${firstUnacked} is not in [1, seq ${seq}]`, ackAt);
      return { kind: 'command', time, sessionId, seq, firstUnacked, payload: r.rest() };
    }
    case KIND.keepAlive: {
      const sessionId = session();
      r.end('keepAlive');
      return { kind: 'keepAlive', time, sessionId };
    }
    case KIND.close: {
      const sessionId = session();
      r.end('close');
      return { kind: 'close', time, sessionId };
    }
    default:
      return r.fail('kind', `unknown kind ${kind}`, 1);
  }
}
