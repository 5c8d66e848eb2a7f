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

  /** The whole map, msgpack-encoded (member addresses travel in RaftNode's snapshot envelope, not here). */
  snapshot(): Uint8Array {
    const rows: unknown[] = [this.appliedIndex];
    for (const [k, v] of this.map) rows.push(k, v.value, v.modRevision, v.createRevision);
    return packr.pack([rows]);
  }

  /** Replaces the state with a snapshot's. */
  restore(data: Uint8Array): void {
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
    this.map.clear();
    this.appliedIndex = rows[0];
    for (let i = 1; i < rows.length; i += 4) {
      const [k, value, mod, create] = rows.slice(i, i + 4) as unknown[];
      if (
        typeof k !== 'string' ||
        typeof value !== 'string' ||
        typeof mod !== 'number' ||
        typeof create !== 'number'
      ) {
        throw new Error(`KV snapshot row ${(i - 1) / 4} is malformed`);
      }
      this.map.set(k, { value, modRevision: mod, createRevision: create });
    }
  }
}

/** The value as an integer if it is one written the canonical way ("-12", not "012" or "1e3"), else undefined. */
function parseInteger(s: string): number | undefined {
  if (!/^-?(0|[1-9]\d{0,15})$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}
