import { UNKNOWN, type Model, type Operation } from './model.js';

/** Register operations: read (output: the value seen) and write. */
export type RegisterInput<V> = { op: 'read' } | { op: 'write'; value: V };

/**
 * A read/write register starting at `initial`. A read's output is the value it saw.
 *
 * @example
 * ```ts
 * checkLinearizable(registerModel<number | null>(null), history);
 * ```
 */
export function registerModel<V>(initial: V): Model<V, RegisterInput<V>, V> {
  return {
    init: () => initial,
    step: (s, input, output) => {
      if (input.op === 'write') return input.value;
      return output === UNKNOWN || equalValues(output, s) ? s : undefined;
    },
    describe: (input, output) =>
      input.op === 'write'
        ? `write ${String(input.value)}`
        : `read -> ${output === UNKNOWN ? '?' : String(output)}`,
  };
}

/** Compare-and-swap register operations; a cas's output is whether it succeeded. */
export type CasInput<V> = RegisterInput<V> | { op: 'cas'; from: V; to: V };

/** A register with compare-and-swap. A cas with an unknown outcome may or may not have happened. */
export function casRegisterModel<V>(initial: V): Model<V, CasInput<V>, V | boolean> {
  return {
    init: () => initial,
    step: (s, input, output) => {
      switch (input.op) {
        case 'write':
          return input.value;
        case 'read':
          return output === UNKNOWN || equalValues(output, s) ? s : undefined;
        case 'cas': {
          const matches = equalValues(s, input.from);
          if (output === UNKNOWN) return matches ? input.to : s;
          if (output === true) return matches ? input.to : undefined;
          return matches ? undefined : s;
        }
      }
    },
    describe: (input, output) => {
      const out = output === UNKNOWN ? '?' : String(output);
      if (input.op === 'cas') return `cas ${String(input.from)}->${String(input.to)} -> ${out}`;
      return input.op === 'write' ? `write ${String(input.value)}` : `read -> ${out}`;
    },
  };
}

/** Key-value operations: get (output: value, '' when absent), put, append. */
export type KvInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string };

/**
 * A map of string keys to string values ('' when absent), partitioned by key so each key is checked alone.
 */
export function kvModel(): Model<string, KvInput, string> {
  return {
    init: () => '',
    step: (s, input, output) => {
      switch (input.op) {
        case 'get':
          return output === UNKNOWN || output === s ? s : undefined;
        case 'put':
          return input.value;
        case 'append':
          return s + input.value;
      }
    },
    hash: (s) => s,
    partition: (ops) => partitionBy(ops, (op) => op.input.key),
    describe: (input, output) =>
      input.op === 'get'
        ? `get ${input.key} -> ${output === UNKNOWN ? '?' : JSON.stringify(output)}`
        : `${input.op} ${input.key} ${JSON.stringify(input.value)}`,
  };
}

/** Mutex operations; an acquire or release that completed ok succeeded. */
export type MutexInput = { op: 'acquire' } | { op: 'release' };

/** A lock: acquire succeeds only when free, release only when held. */
export function mutexModel(): Model<boolean, MutexInput, true> {
  return {
    init: () => false,
    step: (held, input) => (input.op === 'acquire' ? (held ? undefined : true) : held ? false : undefined),
    describe: (input) => input.op,
  };
}

/** One micro-operation of a multi-register transaction: `[op, register, value]`. */
export type MicroOp = readonly ['read' | 'write', string, unknown];

/**
 * Registers read and written in transactions; a transaction's output lists the values its reads saw (the
 * completed transaction's micro-ops), so reads are checked against the state.
 */
export function multiRegisterModel(
  registers: readonly string[],
  initial: unknown = 0,
): Model<Record<string, unknown>, readonly MicroOp[], readonly MicroOp[]> {
  return {
    init: () => Object.fromEntries(registers.map((r) => [r, initial])),
    step: (s, input, output) => {
      const seen = output === UNKNOWN ? input : output;
      const next = { ...s };
      for (let i = 0; i < seen.length; i++) {
        const [op, reg, value] = seen[i]!;
        if (op === 'write') next[reg] = value;
        else if (output !== UNKNOWN && !equalValues(next[reg], value)) return undefined;
      }
      return next;
    },
    hash: (s) => JSON.stringify(registers.map((r) => s[r])),
  };
}

/** Groups operations by `key`, keeping their order. */
export function partitionBy<I, O>(
  ops: readonly Operation<I, O>[],
  key: (op: Operation<I, O>) => string,
): Operation<I, O>[][] {
  const groups = new Map<string, Operation<I, O>[]>();
  for (const op of ops) {
    const k = key(op);
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = []));
    g.push(op);
  }
  return [...groups.values()];
}

function equalValues(a: unknown, b: unknown): boolean {
  return (
    a === b ||
    (a !== null &&
      b !== null &&
      typeof a === 'object' &&
      typeof b === 'object' &&
      JSON.stringify(a) === JSON.stringify(b))
  );
}
