import { entrySize, type Entry } from '../raftpb/types.js';

/**
 * The longest prefix of `ents` whose total size stays within `maxSize`, always keeping at least the first entry
 * (a single entry larger than the limit still has to go somewhere). Sizes come from {@link entrySize}: byte
 * lengths, never serialization.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  for (let limit = 1; limit < ents.length; limit++) {
    size += entrySize(ents[limit]!);
    if (size > maxSize) return ents.slice(0, limit);
  }
  return ents;
}

/** Total size of entries, as {@link limitSize} counts it. */
export function entriesSize(ents: readonly Entry[]): number {
  let size = 0;
  for (const e of ents) size += entrySize(e);
  return size;
}

/** Total payload bytes of entries (what maxUncommittedEntriesSize and maxInflightBytes count). */
export function payloadsSize(ents: readonly Entry[]): number {
  let size = 0;
  for (const e of ents) size += e.data.byteLength;
  return size;
}
