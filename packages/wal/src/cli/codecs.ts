import { etcdCodecs } from '../codec/etcd.js';
import { msgpackCodecs } from '../codec/msgpack.js';
import type { Codecs } from '../codec/types.js';
import { RecordType } from '../record/record-type.js';

export type CodecName = 'msgpack' | 'etcd' | 'raw';

/** The codecs for `--codec` (raw reads with msgpack's framing rules but never decodes payloads). */
export function codecsOf(name: CodecName): Codecs<unknown, unknown, unknown> | undefined {
  if (name === 'raw') return undefined;
  return name === 'etcd' ? etcdCodecs : msgpackCodecs;
}

export const TYPE_NAMES: Record<number, string> = {
  [RecordType.Metadata]: 'metadata',
  [RecordType.Entry]: 'entry',
  [RecordType.State]: 'state',
  [RecordType.Crc]: 'crc',
  [RecordType.Snapshot]: 'snapshot',
};

/** What a record's payload says, as far as the codec knows (index/term/vote/commit). */
export function describePayload(
  codecs: Codecs<unknown, unknown, unknown> | undefined,
  type: number,
  data: Uint8Array | undefined,
): Record<string, unknown> {
  if (codecs === undefined || data === undefined) return {};
  try {
    if (type === RecordType.Entry) {
      const e = codecs.entry.decode(data) as { term?: unknown };
      return { index: codecs.entry.index(e), term: e.term };
    }
    if (type === RecordType.State) {
      const s = codecs.state.decode(data);
      return { term: codecs.state.term(s), vote: codecs.state.vote(s), commit: codecs.state.commit(s) };
    }
    if (type === RecordType.Snapshot) {
      const n = codecs.snapshot.decode(data);
      return { index: codecs.snapshot.index(n), term: codecs.snapshot.term(n) };
    }
  } catch (err) {
    return { decodeError: err instanceof Error ? err.message : String(err) };
  }
  return {};
}
