import { Packr } from 'msgpackr';

// Commands the KV state machine applies, as proposed through raft. Encoded with msgpackr as positional arrays so
// the log stays compact; decoding validates every field (a command in the log was written by this program, but a
// corrupt or foreign one must fail loudly, never apply garbage).

/** A command in the replicated log. */
export type KvCommand =
  | { op: 'put'; key: string; value: string }
  | { op: 'del'; key: string }
  /** Adds `delta` to the key's decimal integer value (an absent key counts as 0). */
  | { op: 'incr'; key: string; delta: number }
  | {
      op: 'cas';
      key: string;
      value: string;
      prevValue?: string | undefined;
      prevRevision?: number | undefined;
    };

const packr = new Packr({ useRecords: false, mapsAsObjects: false });
// 4 and 5 recorded member addresses in earlier versions; RaftNode replicates them itself now (addMember).
const OP = { put: 1, del: 2, cas: 3, incr: 6 } as const;

export function encodeCommand(c: KvCommand): Uint8Array {
  switch (c.op) {
    case 'put':
      return packr.pack([OP.put, c.key, c.value]);
    case 'del':
      return packr.pack([OP.del, c.key]);
    case 'incr':
      return packr.pack([OP.incr, c.key, c.delta]);
    case 'cas':
      return packr.pack([OP.cas, c.key, c.value, c.prevValue ?? null, c.prevRevision ?? null]);
  }
}

export function decodeCommand(bytes: Uint8Array): KvCommand {
  const v: unknown = packr.unpack(bytes);
  if (!Array.isArray(v)) throw new Error('command is not an array');
  const [op, key, value, prevValue, prevRevision] = v as unknown[];
  if (typeof key !== 'string') throw new Error('command key is not a string');
  switch (op) {
    case OP.put:
      if (typeof value !== 'string') throw new Error('put value is not a string');
      return { op: 'put', key, value };
    case OP.del:
      return { op: 'del', key };
    case OP.incr:
      if (typeof value !== 'number' || !Number.isSafeInteger(value))
        throw new Error('incr delta is not an integer');
      return { op: 'incr', key, delta: value };
    case OP.cas:
      if (typeof value !== 'string') throw new Error('cas value is not a string');
      if (prevValue !== null && typeof prevValue !== 'string')
        throw new Error('cas prevValue is not a string');
      if (
        prevRevision !== null &&
        !(typeof prevRevision === 'number' && Number.isSafeInteger(prevRevision))
      ) {
        throw new Error('cas prevRevision is not an integer');
      }
      return {
        op: 'cas',
        key,
        value,
        ...(prevValue !== null ? { prevValue } : {}),
        ...(prevRevision !== null ? { prevRevision } : {}),
      };
    default:
      throw new Error(`unknown command op ${String(op)}`);
  }
}
