import type { StateMachine } from '@x/raft/node';
import type { KvInput, SimOperation } from '@x/raft/testing';
import type { RandomSource } from '@x/raft';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A small replicated map for simulations: `put` commands are `key=value`; apply returns the value written. */
export class KvMachine implements StateMachine<string> {
  readonly map = new Map<string, string>();

  apply(data: Uint8Array): string {
    const text = dec.decode(data);
    const eq = text.indexOf('=');
    const key = text.slice(0, eq);
    const value = text.slice(eq + 1);
    this.map.set(key, value);
    return value;
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify([...this.map]));
  }

  restore(data: Uint8Array): void {
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
