import { Packr } from 'msgpackr';
import { RaftError } from '../errors.js';
import {
  EntryType,
  MessageType,
  type ConfState,
  type Entry,
  type Message,
  type Snapshot,
} from '../raftpb/types.js';
import { array, bool, bytes, fail, oneOf, uint, uintArray } from './validate.js';

// Wire form: a msgpack array, positional so it is compact and decodes without key lookups:
//   [type, to, from, term, logTerm, index, entries, commit, snapshot|null, reject, rejectHint, context|null]
//   entry    = [term, index, type, data]
//   snapshot = [data, index, term, voters, learners, votersOutgoing, learnersNext, autoLeave]

const packr = new Packr({ useRecords: false, mapsAsObjects: false, moreTypes: false, int64AsType: 'number' });
const MESSAGE_TYPES = new Set<number>(Object.values(MessageType));
const ENTRY_TYPES = new Set<number>(Object.values(EntryType));
const FIELDS = 12;

function encodeConfState(cs: ConfState): unknown[] {
  return [cs.voters, cs.learners, cs.votersOutgoing, cs.learnersNext, cs.autoLeave];
}

/**
 * Encodes a message for the wire (msgpack). Byte fields are written as msgpack binary, without copying.
 *
 * @example
 * ```ts
 * socket.write(encodeMessage(msg));
 * ```
 */
export function encodeMessage(m: Message): Uint8Array {
  const ents = new Array<unknown>(m.entries.length);
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    ents[i] = [e.term, e.index, e.type, e.data];
  }
  const s = m.snapshot;
  const snap =
    s === undefined
      ? null
      : [s.data, s.metadata.index, s.metadata.term, ...encodeConfState(s.metadata.confState)];
  return packr.pack([
    m.type,
    m.to,
    m.from,
    m.term,
    m.logTerm,
    m.index,
    ents,
    m.commit,
    snap,
    m.reject,
    m.rejectHint,
    m.context ?? null,
  ]);
}

/**
 * Decodes and validates a message from the wire. Every field is checked (types, ranges, known enum values); any
 * malformed, truncated or hostile input throws `RaftError` `ERR_DECODE` naming the field. Never returns a malformed
 * object. The result is a plain object ready for `RawNode.step`.
 *
 * @example
 * ```ts
 * try { rawNode.step(decodeMessage(frame)); } catch (err) { closeConnection(err); }
 * ```
 */
export function decodeMessage(buf: Uint8Array): Message {
  let v: unknown;
  try {
    v = packr.unpack(buf);
  } catch (err) {
    throw new RaftError(
      'ERR_DECODE',
      `message is not valid msgpack: ${err instanceof Error ? err.message : String(err)}`,
      'message',
    );
  }
  // A message can hold at most one entry per 5 bytes of input: a cheap bound against absurd lengths.
  const maxItems = Math.max(16, buf.byteLength);
  const a = array(v, 'message', FIELDS);
  if (a.length !== FIELDS) fail('message', `expected ${FIELDS} fields, got ${a.length}`);
  const rawEntries = array(a[6], 'entries', maxItems);
  const entries = new Array<Entry>(rawEntries.length);
  for (let i = 0; i < rawEntries.length; i++) entries[i] = decodeEntry(rawEntries[i], i);
  const m: Message = {
    type: oneOf<MessageType>(a[0], 'type', MESSAGE_TYPES),
    to: uint(a[1], 'to'),
    from: uint(a[2], 'from'),
    term: uint(a[3], 'term'),
    logTerm: uint(a[4], 'logTerm'),
    index: uint(a[5], 'index'),
    entries,
    commit: uint(a[7], 'commit'),
    reject: bool(a[9], 'reject'),
    rejectHint: uint(a[10], 'rejectHint'),
  };
  if (a[8] !== null) m.snapshot = decodeSnapshot(a[8], maxItems);
  if (a[11] !== null) m.context = bytes(a[11], 'context');
  return m;
}

function decodeEntry(v: unknown, i: number): Entry {
  const e = array(v, `entries[${i}]`, 4);
  if (e.length !== 4) fail(`entries[${i}]`, `expected 4 fields, got ${e.length}`);
  return {
    term: uint(e[0], `entries[${i}].term`),
    index: uint(e[1], `entries[${i}].index`),
    type: oneOf<EntryType>(e[2], `entries[${i}].type`, ENTRY_TYPES),
    data: bytes(e[3], `entries[${i}].data`),
  };
}

function decodeSnapshot(v: unknown, maxItems: number): Snapshot {
  const s = array(v, 'snapshot', 8);
  if (s.length !== 8) fail('snapshot', `expected 8 fields, got ${s.length}`);
  return {
    data: bytes(s[0], 'snapshot.data'),
    metadata: {
      index: uint(s[1], 'snapshot.metadata.index'),
      term: uint(s[2], 'snapshot.metadata.term'),
      confState: {
        voters: uintArray(s[3], 'snapshot.metadata.confState.voters', maxItems),
        learners: uintArray(s[4], 'snapshot.metadata.confState.learners', maxItems),
        votersOutgoing: uintArray(s[5], 'snapshot.metadata.confState.votersOutgoing', maxItems),
        learnersNext: uintArray(s[6], 'snapshot.metadata.confState.learnersNext', maxItems),
        autoLeave: bool(s[7], 'snapshot.metadata.confState.autoLeave'),
      },
    },
  };
}
