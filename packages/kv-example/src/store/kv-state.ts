import { ChunkReader, readSnapshotBytes } from '@x/raft';
import { Packr } from 'msgpackr';
import { decodeCommand, type KvCommand } from './commands.js';

/** One key's value with its revisions (the log index of its creation and of its last change). */
export interface KvValue {
  value: string;
  /** Log index of the last put/cas that set it. */
  modRevision: number;
  /** Log index of the put that created it (since it last did not exist). */
  createRevision: number;
}

/** What applying a command returns to the proposer. */
export type KvResult =
  | { op: 'put'; revision: number; previous?: KvValue | undefined }
  | { op: 'del'; revision: number; deleted: boolean }
  /** `ok` false (nothing changed) when the current value is not a decimal integer or the sum not a safe integer. */
  | { op: 'incr'; revision: number; ok: boolean; value?: number | undefined; current?: KvValue | undefined }
  | { op: 'cas'; revision: number; ok: boolean; current?: KvValue | undefined };

const packr = new Packr({ useRecords: false, mapsAsObjects: false });

/**
 * The replicated key-value map. Deterministic: the same commands in the same order give the same state on every
 * node. `revision` is the index of the last applied entry that changed anything.
 */
export class KvState {
  private readonly map = new Map<string, KvValue>();
  /** Highest log index applied. */
  appliedIndex = 0;

  get size(): number {
    return this.map.size;
  }

  get(key: string): KvValue | undefined {
    return this.map.get(key);
  }

  /** Applies one encoded command at log `index`. */
  apply(data: Uint8Array, index: number): KvResult {
    const cmd: KvCommand = decodeCommand(data);
    this.appliedIndex = index;
    switch (cmd.op) {
      case 'put': {
        const previous = this.map.get(cmd.key);
        this.map.set(cmd.key, {
          value: cmd.value,
          modRevision: index,
          createRevision: previous?.createRevision ?? index,
        });
        return { op: 'put', revision: index, previous };
      }
      case 'del':
        return { op: 'del', revision: index, deleted: this.map.delete(cmd.key) };
      case 'incr': {
        const current = this.map.get(cmd.key);
        const before = current === undefined ? 0 : parseInteger(current.value);
        const value = before === undefined ? undefined : before + cmd.delta;
        if (value === undefined || !Number.isSafeInteger(value))
          return { op: 'incr', revision: index, ok: false, current };
        this.map.set(cmd.key, {
          value: String(value),
          modRevision: index,
          createRevision: current?.createRevision ?? index,
        });
        return { op: 'incr', revision: index, ok: true, value };
      }
      case 'cas': {
        const current = this.map.get(cmd.key);
        const valueOk = cmd.prevValue === undefined || current?.value === cmd.prevValue;
        // prevRevision 0 means "must not exist".
        const revOk =
          cmd.prevRevision === undefined ||
          (cmd.prevRevision === 0 ? current === undefined : current?.modRevision === cmd.prevRevision);
        if (!valueOk || !revOk) return { op: 'cas', revision: index, ok: false, current };
        this.map.set(cmd.key, {
          value: cmd.value,
          modRevision: index,
          createRevision: current?.createRevision ?? index,
        });
        return { op: 'cas', revision: index, ok: true };
      }
    }
  }

  /**
   * The whole map as a stream (member addresses and sessions travel in envelopes around it, not here): the view is
   * taken now (the key and value arrays, not the data: a write replaces a key's value object, never changes it) and
   * encoded {@link SNAPSHOT_BATCH_ROWS} rows at a time as it is read, so a large map is never encoded whole.
   *
   * Layout: "XKV2", then frames of u32 BE length + msgpack: first `[appliedIndex]`, then flat row batches
   * `[key, value, modRevision, createRevision, ...]`, then a frame of length 0 (so a cut stream is detected).
   */
  snapshot(): Iterable<Uint8Array> {
    const applied = this.appliedIndex;
    const keys = Array.from(this.map.keys());
    const values = Array.from(this.map.values());
    return (function* () {
      yield SNAPSHOT_MAGIC;
      yield frame([applied]);
      for (let at = 0; at < keys.length; at += SNAPSHOT_BATCH_ROWS) {
        const rows: unknown[] = [];
        for (let i = at; i < Math.min(keys.length, at + SNAPSHOT_BATCH_ROWS); i++) {
          const v = values[i] as KvValue;
          rows.push(keys[i], v.value, v.modRevision, v.createRevision);
        }
        yield frame(rows);
      }
      yield new Uint8Array(4); // the end
    })();
  }

  /**
   * Replaces the state with a snapshot's, read batch by batch from the stream. The state changes only once the
   * whole snapshot decoded; a malformed one throws and leaves it as it was. Also reads the format before "XKV2"
   * (one msgpack `[[appliedIndex, key, value, mod, create, ...]]`).
   */
  async restore(data: AsyncIterable<Uint8Array> | Uint8Array): Promise<void> {
    const reader = new ChunkReader(data, 'KV snapshot');
    const head = await reader.peek(SNAPSHOT_MAGIC.byteLength);
    if (!head.every((b, i) => b === SNAPSHOT_MAGIC[i])) {
      this.restoreV1(await readSnapshotBytes(reader.rest()));
      return;
    }
    await reader.read(SNAPSHOT_MAGIC.byteLength, 'magic');
    const map = new Map<string, KvValue>();
    let applied: number | undefined;
    for (let n = 0; ; n++) {
      const lenBytes = await reader.read(4, `frame ${n} length`);
      const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 4).getUint32(0);
      if (len === 0) break;
      const value: unknown = packr.unpack(await reader.read(len, `frame ${n}`));
      if (!Array.isArray(value)) throw new Error(`KV snapshot frame ${n} is malformed`);
      if (applied === undefined) {
        if (value.length !== 1 || typeof value[0] !== 'number')
          throw new Error('KV snapshot is malformed: no applied index');
        applied = value[0];
        continue;
      }
      addRows(map, value as unknown[], 0, `frame ${n}`);
    }
    if (applied === undefined) throw new Error('KV snapshot is malformed: no applied index');
    if ((await reader.peek(1)).byteLength > 0)
      throw new Error('KV snapshot is malformed: bytes after its end');
    this.map.clear();
    for (const [k, v] of map) this.map.set(k, v);
    this.appliedIndex = applied;
  }

  /** The format before "XKV2": one msgpack value holding every row. */
  private restoreV1(data: Uint8Array): void {
    const top: unknown = packr.unpack(data);
    const [rows, extra] = Array.isArray(top) ? (top as unknown[]) : [];
    if (
      !Array.isArray(rows) ||
      (rows.length - 1) % 4 !== 0 ||
      typeof rows[0] !== 'number' ||
      extra !== undefined
    ) {
      throw new Error('KV snapshot is malformed');
    }
    const map = new Map<string, KvValue>();
    addRows(map, rows as unknown[], 1, 'rows');
    this.map.clear();
    for (const [k, v] of map) this.map.set(k, v);
    this.appliedIndex = rows[0];
  }
}

/** The value as an integer if it is one written the canonical way ("-12", not "012" or "1e3"), else undefined. */
function parseInteger(s: string): number | undefined {
  if (!/^-?(0|[1-9]\d{0,15})$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Starts a snapshot in the streamed format (see {@link KvState.snapshot}). */
const SNAPSHOT_MAGIC = Uint8Array.of(0x58, 0x4b, 0x56, 0x32); // "XKV2"
/** Rows per msgpack frame of a snapshot. */
const SNAPSHOT_BATCH_ROWS = 4096;

function frame(value: unknown[]): Uint8Array {
  const body = packr.pack(value);
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, body.byteLength);
  out.set(body, 4);
  return out;
}

/** Adds the flat rows `[key, value, mod, create, ...]` of `rows` from `from` to `map`; throws on a malformed row. */
function addRows(map: Map<string, KvValue>, rows: unknown[], from: number, where: string): void {
  if ((rows.length - from) % 4 !== 0) throw new Error(`KV snapshot ${where} is malformed`);
  for (let i = from; i < rows.length; i += 4) {
    const [k, value, mod, create] = rows.slice(i, i + 4);
    if (
      typeof k !== 'string' ||
      typeof value !== 'string' ||
      typeof mod !== 'number' ||
      typeof create !== 'number'
    ) {
      throw new Error(`KV snapshot row ${(i - from) / 4} of ${where} is malformed`);
    }
    map.set(k, { value, modRevision: mod, createRevision: create });
  }
}
