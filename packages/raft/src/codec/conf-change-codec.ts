import { Packr } from 'msgpackr';
import { RaftError } from '../errors.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  type ConfChange,
  type ConfChangeSingle,
  type ConfChangeV2,
} from '../raftpb/types.js';
import { array, bytes, fail, oneOf, uint } from './validate.js';

// The bytes stored in EntryConfChange / EntryConfChangeV2 entries:
//   V1 = [type, nodeId, context|null]
//   V2 = [transition, [[type, nodeId], ...], context|null]

const packr = new Packr({ useRecords: false, mapsAsObjects: false, moreTypes: false });
const CC_TYPES = new Set<number>(Object.values(ConfChangeType));
const TRANSITIONS = new Set<number>(Object.values(ConfChangeTransition));

function unpack(buf: Uint8Array, what: string): unknown {
  try {
    return packr.unpack(buf);
  } catch (err) {
    throw new RaftError(
      'ERR_DECODE',
      `${what} is not valid msgpack: ${err instanceof Error ? err.message : String(err)}`,
      what,
    );
  }
}

/** Encodes a V1 conf change as entry data. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return packr.pack([cc.type, cc.nodeId, cc.context ?? null]);
}

/** Decodes and validates V1 conf change entry data (throws RaftError ERR_DECODE). */
export function decodeConfChange(buf: Uint8Array): ConfChange {
  const a = array(unpack(buf, 'confChange'), 'confChange', 3);
  if (a.length !== 3) fail('confChange', `expected 3 fields, got ${a.length}`);
  const cc: ConfChange = {
    type: oneOf<ConfChangeType>(a[0], 'confChange.type', CC_TYPES),
    nodeId: uint(a[1], 'confChange.nodeId'),
  };
  if (a[2] !== null) cc.context = bytes(a[2], 'confChange.context');
  return cc;
}

/** Encodes a V2 conf change as entry data. */
export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  return packr.pack([cc.transition, cc.changes.map((c) => [c.type, c.nodeId]), cc.context ?? null]);
}

/** Decodes and validates V2 conf change entry data (throws RaftError ERR_DECODE). */
export function decodeConfChangeV2(buf: Uint8Array): ConfChangeV2 {
  const a = array(unpack(buf, 'confChangeV2'), 'confChangeV2', 3);
  if (a.length !== 3) fail('confChangeV2', `expected 3 fields, got ${a.length}`);
  const raw = array(a[1], 'confChangeV2.changes', Math.max(16, buf.byteLength));
  const changes: ConfChangeSingle[] = raw.map((c, i) => {
    const f = array(c, `confChangeV2.changes[${i}]`, 2);
    if (f.length !== 2) fail(`confChangeV2.changes[${i}]`, 'expected [type, nodeId]');
    return {
      type: oneOf<ConfChangeType>(f[0], `confChangeV2.changes[${i}].type`, CC_TYPES),
      nodeId: uint(f[1], `confChangeV2.changes[${i}].nodeId`),
    };
  });
  const cc: ConfChangeV2 = {
    transition: oneOf<ConfChangeTransition>(a[0], 'confChangeV2.transition', TRANSITIONS),
    changes,
  };
  if (a[2] !== null) cc.context = bytes(a[2], 'confChangeV2.context');
  return cc;
}
