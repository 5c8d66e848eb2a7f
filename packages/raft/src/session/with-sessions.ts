import { ChunkReader, snapshotChunks, type SnapshotChunks } from '../codec/chunk-reader.js';
import { RaftError } from '../errors.js';
import type { SnapshotMetadata } from '../raftpb/types.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { decodeSessionEntry } from './entry.js';
import { SessionTable, type SessionTableOptions } from './session-table.js';

export type { SnapshotChunks };

/** The application state machine `withSessions` wraps (structurally `@x/raft/node`'s `StateMachine<R>`). */
export interface SessionAwareStateMachine<R> {
  apply(data: Uint8Array, index: number): R | Promise<R>;
  snapshot(): SnapshotChunks | Promise<SnapshotChunks>;
  /** Replaces the state with a snapshot's data, read from a stream of chunks. */
  restore(data: AsyncIterable<Uint8Array>, metadata: SnapshotMetadata): void | Promise<void>;
}

/** How results are kept: recorded results live in the table and travel in snapshots, so they must be bytes. */
export interface ResultCodec<R> {
  encode(result: R): Uint8Array;
  /** Must give back a value equal to what `encode` was given (a duplicate is answered with it). */
  decode(bytes: Uint8Array): R;
}

/** Codes of a command the session layer refused (it was not applied). */
export type SessionErrorCode = 'ERR_SESSION_EXPIRED' | 'ERR_SESSION_RESPONSE_DISCARDED';

/** What applying an entry through {@link withSessions} returns. */
export type SessionResult<R> =
  /** The command's result: applied now, or (`duplicate`) recorded when it was first applied. */
  | { kind: 'result'; result: R; duplicate: boolean }
  | { kind: 'registered'; sessionId: number }
  | { kind: 'keptAlive'; sessionId: number }
  | { kind: 'closed'; sessionId: number }
  /**
   * Not applied. `ERR_SESSION_EXPIRED`: the session is unknown (expired, closed, evicted, never registered): the
   * client cannot know whether earlier commands applied and must register a new session.
   * `ERR_SESSION_RESPONSE_DISCARDED`: `seq` is below the client's own `firstUnacked` (a client bug).
   */
  | { kind: 'error'; code: SessionErrorCode; sessionId: number; message: string };

/** Options of {@link withSessions}: the table's (identical on every replica) and the result codec. */
export interface WithSessionsOptions<R> extends SessionTableOptions {
  results: ResultCodec<R>;
}

/** A state machine with sessions: `apply` takes session envelopes, the table rides in snapshots. */
export interface SessionStateMachine<R> extends SessionAwareStateMachine<SessionResult<R>> {
  /** The session table (read it; change it only through the log). */
  readonly sessions: SessionTable;
}

// Snapshot layout: "XSS" + format byte, the table (length-prefixed), then the application's snapshot unchanged.
const SNAPSHOT_MAGIC = Uint8Array.of(0x58, 0x53, 0x53, 0x01);

/**
 * Wraps an application state machine so each tagged command is applied at most once (Raft dissertation §6.3).
 * Every entry must be a session envelope (`encodeRegisterSession`, `encodeSessionCommand`, `encodeUntaggedCommand`,
 * `encodeKeepAlive`, `encodeCloseSession`); anything else throws `ERR_DECODE` (the node stops: a foreign entry is a
 * bug, never something to guess about). Per entry, in log order:
 *
 * 1. log time becomes the entry's time if that is later, and sessions idle for more than `timeoutMs` expire;
 * 2. `register` opens session id = the entry's index; a tagged command of an unknown session is refused with
 *    `ERR_SESSION_EXPIRED` (never applied: a silent re-apply could run a command twice);
 * 3. a tagged command already applied is answered with its recorded result (`duplicate: true`), not applied;
 *    a new one is applied and its encoded result recorded until the client's `firstUnacked` passes it.
 *
 * Snapshots carry the table in front of the application's snapshot; `restore` takes it back. Results are kept
 * encoded with `options.results`, so a duplicate answered after a restore equals the first answer.
 *
 * @example
 * ```ts
 * const sm = withSessions(myStateMachine, { results: myResultCodec, timeoutMs: 3_600_000 });
 * const node = await RaftNode.start({ ...options, stateMachine: sm });
 * const reg = (await node.proposeForResult(encodeRegisterSession(Date.now()))).result;
 * if (reg.kind !== 'registered') throw new Error('no session');
 * const cmd = encodeSessionCommand({ sessionId: reg.sessionId, seq: 1 }, myCommand, Date.now());
 * const out = (await node.proposeForResult(cmd)).result; // retry `cmd` after ERR_TIMEOUT: applied once
 * ```
 */
export function withSessions<R>(
  inner: SessionAwareStateMachine<R>,
  options: WithSessionsOptions<R>,
): SessionStateMachine<R> {
  let table = new SessionTable(options);
  const codec = options.results;
  const refuse = (code: SessionErrorCode, sessionId: number, message: string): SessionResult<R> => ({
    kind: 'error',
    code,
    sessionId,
    message,
  });
  return {
    get sessions() {
      return table;
    },
    apply(data, index) {
      const e = decodeSessionEntry(data);
      table.advance(e.time);
      switch (e.kind) {
        case 'untagged':
          return then(inner.apply(e.payload, index), (result) => ({
            kind: 'result',
            result,
            duplicate: false,
          }));
        case 'register':
          table.register(index);
          return { kind: 'registered', sessionId: index };
        case 'keepAlive':
          return table.keepAlive(e.sessionId)
            ? { kind: 'keptAlive', sessionId: e.sessionId }
            : refuse('ERR_SESSION_EXPIRED', e.sessionId, `session ${e.sessionId} is unknown or expired`);
        case 'close':
          return table.close(e.sessionId)
            ? { kind: 'closed', sessionId: e.sessionId }
            : refuse('ERR_SESSION_EXPIRED', e.sessionId, `session ${e.sessionId} is unknown or expired`);
        case 'command': {
          const check = table.check(e.sessionId, e.seq, e.firstUnacked);
          switch (check.status) {
            case 'expired':
              return refuse(
                'ERR_SESSION_EXPIRED',
                e.sessionId,
                `session ${e.sessionId} is unknown or expired: command ${e.seq} was not applied; register a new session`,
              );
            case 'discarded':
              return refuse(
                'ERR_SESSION_RESPONSE_DISCARDED',
                e.sessionId,
                `command ${e.seq} of session ${e.sessionId} is below the client's first unacknowledged ${check.firstUnacked}: not applied, result gone`,
              );
            case 'duplicate':
              return { kind: 'result', result: codec.decode(check.result), duplicate: true };
            case 'new':
              return then(inner.apply(e.payload, index), (result) => {
                table.record(e.sessionId, e.seq, codec.encode(result));
                return { kind: 'result', result, duplicate: false };
              });
          }
        }
      }
    },
    snapshot() {
      // The table and the application's view are both taken now, between two applies.
      const head = new ByteWriter().raw(SNAPSHOT_MAGIC).bytes(table.encode()).finish();
      return then(inner.snapshot(), (data) => prepend(head, data));
    },
    async restore(chunks, metadata) {
      // The table is read off the front of the stream; the application's data streams on to `inner.restore`.
      const reader = new ChunkReader(chunks, `snapshot at index ${metadata.index}`);
      const magic = await reader.read(SNAPSHOT_MAGIC.byteLength, 'magic');
      if (!magic.every((b, i) => b === SNAPSHOT_MAGIC[i]))
        new ByteReader(magic, `snapshot at index ${metadata.index}`).fail(
          'magic',
          'not a snapshot written by withSessions',
          0,
        );
      const restored = new SessionTable(options);
      restored.restore(await reader.read(await readLength(reader, metadata.index), 'sessions'));
      await inner.restore(reader.rest(), metadata);
      table = restored;
    },
  };
}

/**
 * Throws the refusal in `out` as a `RaftError` with its code; returns the result otherwise.
 *
 * @example
 * ```ts
 * const value = sessionResultOrThrow((await node.proposeForResult(cmd)).result); // throws ERR_SESSION_EXPIRED
 * ```
 */
export function sessionResultOrThrow<R>(out: SessionResult<R>): R {
  if (out.kind === 'result') return out.result;
  if (out.kind === 'error') throw new RaftError(out.code, out.message, 'sessionId');
  throw new RaftError('ERR_INVALID_ARGUMENT', `expected a command result, got ${out.kind}`, 'kind');
}

/** `f(v)`, synchronously when `v` is not a promise (keeps a synchronous state machine synchronous). */
function then<T, U>(v: T | Promise<T>, f: (t: T) => U): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}

/** `head` then `data`, as a stream (the application's snapshot is never copied). */
function prepend(head: Uint8Array, data: SnapshotChunks): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield head;
    yield* snapshotChunks(data);
  })();
}

/** The session table's length prefix (a varint of at most 8 bytes, as `ByteWriter.bytes` writes it). */
async function readLength(reader: ChunkReader, index: number): Promise<number> {
  const varint: number[] = [];
  for (;;) {
    const b = await reader.byte('sessions.length');
    varint.push(b);
    if ((b & 0x80) === 0 || varint.length >= 9) break;
  }
  return new ByteReader(Uint8Array.from(varint), `snapshot at index ${index}`).uint('sessions.length');
}
