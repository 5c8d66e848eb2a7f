// Readers for the public histories in ../shared/oracles: porcupine's etcd Jepsen logs and kv logs, and knossos's
// EDN histories, turned into operations for the checker.
import { readFileSync } from 'node:fs';
import { historyFromEvents, type HistoryEvent } from '../../../src/testing/linearizability/history.js';
import { kw, parseEdn, type Edn } from '../../../src/testing/linearizability/edn.js';
import type { CasInput, KvInput, MicroOp, MutexInput } from '../../../src/testing/linearizability/models.js';
import type { Operation } from '../../../src/testing/linearizability/model.js';

type Phase = HistoryEvent<unknown, unknown>['type'];
const PHASES = new Set(['invoke', 'ok', 'fail', 'info']);

/** porcupine/jepsen/etcd_NNN.log: `INFO  jepsen.util - 3\t:ok\t:cas\t[1 4]`. A cas register starting at nil. */
export function readJepsenEtcdLog(
  path: string,
): Operation<CasInput<number | null>, number | boolean | null>[] {
  const events: HistoryEvent<CasInput<number | null>, number | boolean | null>[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /jepsen\.util - (\d+)\t:(\w+)\t:(\w+)\t(.*)$/.exec(line);
    if (m === null) continue;
    const [, proc, type, f, raw] = m;
    if (!PHASES.has(type ?? '')) continue;
    const value = (raw ?? '').trim();
    const num = (s: string): number | null => (s === 'nil' ? null : Number(s));
    const phase = type as Phase;
    let input: CasInput<number | null> | undefined;
    if (phase === 'invoke') {
      if (f === 'read') input = { op: 'read' };
      else if (f === 'write') input = { op: 'write', value: num(value) };
      else if (f === 'cas') {
        const [from, to] = value.replace(/[[\]]/g, '').split(/\s+/);
        input = { op: 'cas', from: num(from ?? 'nil'), to: num(to ?? 'nil') };
      } else throw new Error(`${path}: unknown op ${f}`);
    }
    const output = phase === 'ok' ? (f === 'read' ? num(value) : f === 'cas' ? true : null) : undefined;
    events.push({
      process: Number(proc),
      type: phase,
      ...(input ? { input } : {}),
      ...(output !== undefined ? { output } : {}),
    });
  }
  return historyFromEvents(events, { dropUnknown: (i) => i.op === 'read' });
}

/** A scalar EDN value as text (strings, numbers, keywords); anything else is an error in these histories. */
function text(v: Edn | undefined): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  const k = kw(v);
  if (k !== undefined) return k;
  throw new Error(`expected a scalar, got ${JSON.stringify(v)}`);
}

function field(m: Edn, k: string): Edn | undefined {
  return m instanceof Map ? m.get(k) : undefined;
}

/** EDN maps with :process :type :f :value (and :key for porcupine's kv); nemesis events are skipped. */
function ednEvents(path: string): Map<string, Edn>[] {
  const top = parseEdn(readFileSync(path, 'utf8'));
  const list = top.length === 1 && Array.isArray(top[0]) ? top[0] : top;
  return list.filter(
    (e): e is Map<string, Edn> => e instanceof Map && typeof field(e, ':process') === 'number',
  );
}

/** porcupine/kv/cNN-{ok,bad}.txt: get/put/append on string keys. */
export function readPorcupineKv(path: string): Operation<KvInput, string>[] {
  const events = ednEvents(path).map((e): HistoryEvent<KvInput, string> => {
    const type = kw(field(e, ':type')) as Phase;
    const f = kw(field(e, ':f'));
    const key = text(field(e, ':key'));
    const value = field(e, ':value');
    const input: KvInput =
      f === 'get' ? { op: 'get', key } : { op: f === 'put' ? 'put' : 'append', key, value: text(value) };
    return {
      process: field(e, ':process') as number,
      type,
      input,
      ...(type === 'ok' ? { output: value === null ? '' : text(value) } : {}),
    };
  });
  return historyFromEvents(events, { dropUnknown: (i) => i.op === 'get' });
}

/** knossos cas-register histories (register starts at nil). */
export function readKnossosCas(path: string): Operation<CasInput<Edn>, Edn>[] {
  const events = ednEvents(path).map((e): HistoryEvent<CasInput<Edn>, Edn> => {
    const type = kw(field(e, ':type')) as Phase;
    const f = kw(field(e, ':f'));
    const value = field(e, ':value') ?? null;
    let input: CasInput<Edn>;
    if (f === 'read') input = { op: 'read' };
    else if (f === 'write') input = { op: 'write', value };
    else if (f === 'cas' && Array.isArray(value))
      input = { op: 'cas', from: value[0] ?? null, to: value[1] ?? null };
    else throw new Error(`${path}: unsupported op ${String(f)}`);
    return {
      process: field(e, ':process') as number,
      type,
      input,
      ...(type === 'ok' ? { output: f === 'cas' ? true : value } : {}),
    };
  });
  return historyFromEvents(events, { dropUnknown: (i) => i.op === 'read' });
}

/** knossos mutex histories. */
export function readKnossosMutex(path: string): Operation<MutexInput, true>[] {
  const events = ednEvents(path).map((e): HistoryEvent<MutexInput, true> => {
    const type = kw(field(e, ':type')) as Phase;
    const f = kw(field(e, ':f'));
    if (f !== 'acquire' && f !== 'release') throw new Error(`${path}: unsupported op ${String(f)}`);
    return {
      process: field(e, ':process') as number,
      type,
      input: { op: f },
      ...(type === 'ok' ? { output: true as const } : {}),
    };
  });
  return historyFromEvents(events);
}

/** knossos multi-register histories: :txn with [[:read :x v] [:write :y v]]. */
export function readKnossosMultiRegister(path: string): Operation<readonly MicroOp[], readonly MicroOp[]>[] {
  const micro = (v: Edn | undefined): MicroOp[] =>
    (Array.isArray(v) ? v : []).map((m) => {
      const [op, reg, value] = Array.isArray(m) ? m : [];
      return [kw(op) === 'write' ? 'write' : 'read', text(reg), value ?? null] as const;
    });
  const events = ednEvents(path).map((e): HistoryEvent<readonly MicroOp[], readonly MicroOp[]> => {
    const type = kw(field(e, ':type')) as Phase;
    const value = micro(field(e, ':value'));
    return {
      process: field(e, ':process') as number,
      type,
      input: value,
      ...(type === 'ok' ? { output: value } : {}),
    };
  });
  return historyFromEvents(events);
}
