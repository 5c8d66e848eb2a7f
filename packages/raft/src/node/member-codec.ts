// How member addresses travel in what raft replicates and persists. Two places, because a restarted node must
// rebuild every peer's address from what is durable, and a snapshot can compact away the entries that added them:
//
// 1. The conf-change context. `addMember` proposes `ConfChange{AddNode|AddLearnerNode, nodeId, context}` with
//    context = MEMBER_MAGIC ‖ UTF-8 JSON {"address": string, "metadata"?: {string: string}} (etcd carries its
//    Member as JSON in the same field). Replaying the log rebuilds the table.
// 2. The snapshot envelope. RaftNode writes every snapshot as SNAPSHOT_MAGIC ‖ u32 BE length ‖ UTF-8 JSON
//    {"members": [[id, address, metadata?], ...], "removed": [id, ...]} ‖ the state machine's own bytes (streamed:
//    the data is never copied or held whole), and reads it off the front of the stream before `restore` (a bare
//    members list, written before removed ids were kept, is read too); the
//    snapshot's metadata (index, term, ConfState) stays etcd's, so `@x/wal`'s SnapshotStore needs no change. A
//    snapshot without the magic (written before this format, or by another tool) is all state-machine data and
//    carries no addresses.
//
// Neither magic starts with 0x01, the proposal header's version byte, so `unframe` never mistakes one for it.
import { ChunkReader, snapshotChunks } from '../codec/chunk-reader.js';
import { RaftError } from '../errors.js';
import type { SnapshotPayload } from './types.js';

/** What the replicated configuration knows about a member besides its id. */
export interface MemberInfo {
  /** Where its peers reach it (for TcpTransport, `host:port`). */
  address: string;
  /** Application data replicated with the address (e.g. a client URL). */
  metadata?: Readonly<Record<string, string>>;
}

const MEMBER_MAGIC = new Uint8Array([0x78, 0x72, 0x6d, 0x31]); // "xrm1"
const SNAPSHOT_MAGIC = new Uint8Array([0x78, 0x72, 0x73, 0x6e, 0x61, 0x70, 0x30, 0x31]); // "xrsnap01"
/** A member table larger than this is corrupt (it would be read into memory whole). */
const MAX_MEMBER_TABLE_BYTES = 64 * 1024 * 1024;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function startsWith(bytes: Uint8Array, magic: Uint8Array): boolean {
  if (bytes.byteLength < magic.byteLength) return false;
  for (let i = 0; i < magic.byteLength; i++) if (bytes[i] !== magic[i]) return false;
  return true;
}

/** Throws ERR_CONFIG_INVALID naming the field when `info` is not a valid member description. */
export function checkMemberInfo(info: MemberInfo, where: string): void {
  if (typeof info.address !== 'string' || info.address.length === 0) {
    throw new RaftError('ERR_CONFIG_INVALID', `${where}: address must be a non-empty string`, 'address');
  }
  const md = info.metadata;
  if (md === undefined) return;
  if (typeof md !== 'object' || md === null || Array.isArray(md)) {
    throw new RaftError('ERR_CONFIG_INVALID', `${where}: metadata must be an object of strings`, 'metadata');
  }
  for (const [k, v] of Object.entries(md)) {
    if (typeof v !== 'string') {
      throw new RaftError('ERR_CONFIG_INVALID', `${where}: metadata.${k} must be a string`, `metadata.${k}`);
    }
  }
}

/** The conf-change context that carries `info`. */
export function encodeMemberContext(info: MemberInfo): Uint8Array {
  const json = utf8.encode(JSON.stringify(plain(info)));
  const out = new Uint8Array(MEMBER_MAGIC.byteLength + json.byteLength);
  out.set(MEMBER_MAGIC);
  out.set(json, MEMBER_MAGIC.byteLength);
  return out;
}

/**
 * The member a conf-change context carries; undefined when the context is not one `encodeMemberContext` wrote
 * (an application's own bytes). A context with the magic that does not decode is corrupt: ERR_DECODE.
 */
export function decodeMemberContext(context: Uint8Array, index: number): MemberInfo | undefined {
  if (!startsWith(context, MEMBER_MAGIC)) return undefined;
  const where = `conf change at index ${index}: member context`;
  const value = parseJson(context.subarray(MEMBER_MAGIC.byteLength), where);
  const info = asMemberInfo(value, where);
  if (info === undefined)
    throw new RaftError('ERR_DECODE', `${where} is not {address, metadata?}`, 'context');
  return info;
}

/** The replicated member table a snapshot envelope carries. */
export interface MemberTable {
  members: Map<number, MemberInfo>;
  /** Ids removed from the configuration: never members again (ids are not reused), refused by the transport. */
  removed: Set<number>;
}

/** A new cluster's first members for `RawNode.bootstrap`, each with its address (if given) in its context. */
export function bootstrapPeers(
  peers: readonly { id: number; address?: string; metadata?: Readonly<Record<string, string>> }[],
): { id: number; context?: Uint8Array }[] {
  return peers.map((p) =>
    p.address === undefined
      ? { id: p.id }
      : {
          id: p.id,
          context: encodeMemberContext(
            p.metadata === undefined ? { address: p.address } : { address: p.address, metadata: p.metadata },
          ),
        },
  );
}

/** `data` (the state machine's snapshot) behind an envelope holding the member table, as a stream (no copy of `data`). */
export function wrapSnapshot(
  table: { members: ReadonlyMap<number, MemberInfo>; removed: ReadonlySet<number> },
  data: SnapshotPayload,
): AsyncIterable<Uint8Array> {
  const rows = [...table.members].map(([id, m]) =>
    m.metadata === undefined ? [id, m.address] : [id, m.address, m.metadata],
  );
  const removed = [...table.removed].sort((a, b) => a - b);
  const json = utf8.encode(JSON.stringify({ members: rows, removed }));
  const head = new Uint8Array(SNAPSHOT_MAGIC.byteLength + 4 + json.byteLength);
  head.set(SNAPSHOT_MAGIC);
  new DataView(head.buffer).setUint32(SNAPSHOT_MAGIC.byteLength, json.byteLength);
  head.set(json, SNAPSHOT_MAGIC.byteLength + 4);
  return (async function* () {
    yield head;
    yield* snapshotChunks(data);
  })();
}

/**
 * Reads the member table off the front of a snapshot stream RaftNode wrote, and hands on the state machine's data
 * as a stream (read lazily, never held whole). A stream without the envelope is all state-machine data (no
 * members). A damaged envelope is ERR_DECODE.
 */
export async function unwrapSnapshot(
  chunks: AsyncIterable<Uint8Array> | Uint8Array,
  index: number,
): Promise<MemberTable & { data: AsyncIterable<Uint8Array> }> {
  const reader = new ChunkReader(chunks, `snapshot at index ${index}`);
  return { ...(await readMembers(reader, index)), data: reader.rest() };
}

/** Only the member table of a snapshot stream RaftNode wrote (the rest is not read; the stream is closed). */
export async function snapshotMembers(
  chunks: AsyncIterable<Uint8Array> | Uint8Array,
  index: number,
): Promise<MemberTable> {
  const reader = new ChunkReader(chunks, `snapshot at index ${index}`);
  try {
    return await readMembers(reader, index);
  } finally {
    await reader.close();
  }
}

async function readMembers(reader: ChunkReader, index: number): Promise<MemberTable> {
  const members = new Map<number, MemberInfo>();
  const removed = new Set<number>();
  const where = `snapshot at index ${index}: member table`;
  if (!startsWith(await reader.peek(SNAPSHOT_MAGIC.byteLength), SNAPSHOT_MAGIC)) return { members, removed };
  await reader.read(SNAPSHOT_MAGIC.byteLength, 'magic');
  const lenBytes = await reader.read(4, 'members');
  const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 4).getUint32(0);
  if (len > MAX_MEMBER_TABLE_BYTES)
    throw new RaftError(
      'ERR_DECODE',
      `${where} announces ${len} bytes (limit ${MAX_MEMBER_TABLE_BYTES})`,
      'members',
    );
  const table = parseJson(await reader.read(len, 'members'), where);
  // Written before removed ids were kept: a bare list of members.
  const { members: rows, removed: gone } = (
    Array.isArray(table) ? { members: table, removed: [] } : (table ?? {})
  ) as { members?: unknown; removed?: unknown };
  if (!Array.isArray(rows)) throw new RaftError('ERR_DECODE', `${where} has no members list`, 'members');
  if (!Array.isArray(gone)) throw new RaftError('ERR_DECODE', `${where} has no removed list`, 'removed');
  for (const id of gone as unknown[]) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
      throw new RaftError(
        'ERR_DECODE',
        `${where} has a malformed removed id ${JSON.stringify(id)}`,
        'removed',
      );
    }
    removed.add(id);
  }
  for (const row of rows as unknown[]) {
    const [id, address, metadata] = Array.isArray(row) ? (row as unknown[]) : [];
    const info = asMemberInfo({ address, metadata }, where);
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0 || info === undefined) {
      throw new RaftError('ERR_DECODE', `${where} has a malformed row ${JSON.stringify(row)}`, 'members');
    }
    members.set(id, info);
  }
  return { members, removed };
}

function plain(info: MemberInfo): MemberInfo {
  return info.metadata === undefined
    ? { address: info.address }
    : { address: info.address, metadata: { ...info.metadata } };
}

function parseJson(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(fromUtf8.decode(bytes)) as unknown;
  } catch (err) {
    throw new RaftError('ERR_DECODE', `${where} is not valid JSON: ${String(err)}`, 'context');
  }
}

function asMemberInfo(value: unknown, where: string): MemberInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { address, metadata } = value as { address?: unknown; metadata?: unknown };
  if (typeof address !== 'string' || address.length === 0) return undefined;
  if (metadata === undefined || metadata === null) return { address };
  try {
    checkMemberInfo({ address, metadata: metadata as Record<string, string> }, where);
  } catch {
    return undefined;
  }
  return { address, metadata: { ...(metadata as Record<string, string>) } };
}
