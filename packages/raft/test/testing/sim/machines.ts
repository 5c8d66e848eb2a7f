import { readSnapshotBytes } from '../../../src/codec/chunk-reader.js';
import type { StateMachine } from '@x/raft/node';
import { UNKNOWN, partitionBy, type KvInput, type Model, type SimOperation } from '@x/raft/testing';
import type { RandomSource } from '@x/raft';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * How a simulated state machine answers `apply`: at once, or (`overlap`) as an I/O-bound one that issues its
 * writes in call order and acknowledges them later, after 0-4 promise hops picked from the index: later calls
 * often settle before earlier ones, which the node must take in log order (run with `applyConcurrency` > 1). Its
 * `snapshot()` throws when an apply is still running: the node must never capture one then.
 */
class Acknowledger {
  running = 0;
  constructor(private readonly overlap: boolean) {}

  answer<R>(result: R, index: number): R | Promise<R> {
    if (!this.overlap) return result;
    this.running++;
    let p = Promise.resolve();
    for (let hops = (index * 2_654_435_761) % 5; hops > 0; hops--) p = p.then();
    return p.then(() => {
      this.running--;
      return result;
    });
  }

  checkIdle(): void {
    if (this.running > 0) throw new Error(`snapshot() while ${this.running} applies were running`);
  }
}

/** A small replicated map for simulations: `put` commands are `key=value`; apply returns the value written. */
export class KvMachine implements StateMachine<string> {
  readonly map = new Map<string, string>();
  private readonly ack: Acknowledger;

  constructor(opts: { overlap?: boolean } = {}) {
    this.ack = new Acknowledger(opts.overlap ?? false);
  }

  apply(data: Uint8Array, index: number): string | Promise<string> {
    const text = dec.decode(data);
    const eq = text.indexOf('=');
    const key = text.slice(0, eq);
    const value = text.slice(eq + 1);
    this.map.set(key, value);
    return this.ack.answer(value, index);
  }

  snapshot(): Uint8Array {
    this.ack.checkIdle();
    return enc.encode(JSON.stringify([...this.map]));
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const data = await readSnapshotBytes(chunks);
    this.map.clear();
    for (const [k, v] of JSON.parse(dec.decode(data)) as [string, string][]) this.map.set(k, v);
  }
}

/** Writes of unique values and linearizable reads over a few keys, as the kv model checks them. */
export function kvOperations(
  keys = 3,
): (rng: RandomSource, clientId: number) => SimOperation<string, KvMachine, KvInput, string> {
  let n = 0;
  return (rng, clientId) => {
    const key = `k${rng.nextInt(keys)}`;
    if (rng.nextInt(2) === 0) {
      const value = `${clientId}.${++n}`;
      return {
        kind: 'write',
        input: { op: 'put', key, value },
        command: enc.encode(`${key}=${value}`),
        output: () => '',
      };
    }
    return { kind: 'read', input: { op: 'get', key }, query: (m) => m.map.get(key) ?? '' };
  };
}

/**
 * Counters by key: a command is `[key, by]` and adds `by` to counter `key`; `apply` returns the new value. Not
 * idempotent: an entry applied twice shows.
 */
export class CounterMachine implements StateMachine<number> {
  readonly values: number[] = [];
  private readonly ack: Acknowledger;

  constructor(opts: { overlap?: boolean } = {}) {
    this.ack = new Acknowledger(opts.overlap ?? false);
  }

  apply(data: Uint8Array, index: number): number | Promise<number> {
    const key = data[0] ?? 0;
    const value = (this.values[key] ?? 0) + (data[1] ?? 0);
    this.values[key] = value;
    return this.ack.answer(value, index);
  }

  snapshot(): Uint8Array {
    this.ack.checkIdle();
    return enc.encode(JSON.stringify(this.values));
  }

  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const values = JSON.parse(dec.decode(await readSnapshotBytes(chunks))) as (number | null)[];
    this.values.length = 0;
    values.forEach((v, k) => (this.values[k] = v ?? 0));
  }
}

export type CounterInput = { op: 'add'; key: number; by: number } | { op: 'read'; key: number };

/**
 * The counters' specification, checked key by key (P-compositionality keeps the search small: each key's history
 * has few writes of unknown outcome, and each can land anywhere after its call).
 */
export const counterModel: Model<number, CounterInput, number> = {
  init: () => 0,
  step: (value, input, output) => {
    if (input.op === 'read') return output === UNKNOWN || output === value ? value : undefined;
    const next = value + input.by;
    return output === UNKNOWN || output === next ? next : undefined;
  },
  partition: (ops) => partitionBy(ops, (op) => String(op.input.key)),
  describe: (input, output) =>
    `${input.op === 'add' ? `add ${input.by} to ${input.key}` : `read ${input.key}`} -> ${output === UNKNOWN ? '?' : output}`,
};

/** Adds of 1-5 and linearizable reads over `keys` counters. */
export function counterOperations(
  keys = 4,
): (rng: RandomSource) => SimOperation<number, CounterMachine, CounterInput, number> {
  return (rng) => {
    const key = rng.nextInt(keys);
    const by = 1 + rng.nextInt(5);
    return rng.nextInt(2) === 0
      ? { kind: 'write', input: { op: 'add', key, by }, command: Uint8Array.of(key, by), output: (r) => r }
      : { kind: 'read', input: { op: 'read', key }, query: (c) => c.values[key] ?? 0 };
  };
}
