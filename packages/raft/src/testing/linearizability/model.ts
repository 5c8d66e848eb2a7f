/**
 * A sequential specification for the linearizability checker: the state an object starts in, and what one
 * operation does to it. Operations are `{ input, output }` pairs as a client saw them.
 *
 * @example
 * ```ts
 * // A register holding a number (0 initially); reads return it, writes replace it.
 * const register: Model<number, { op: 'read' } | { op: 'write'; value: number }, number | undefined> = {
 *   init: () => 0,
 *   step: (s, input, output) => input.op === 'read' ? (output === s ? s : undefined) : input.value,
 * };
 * ```
 */
export interface Model<S, I, O> {
  /** The initial state. */
  init(): S;
  /**
   * The state after applying `input` in state `s`, if the operation could have returned `output` there;
   * `undefined` if not. `output` is {@link UNKNOWN} for an operation whose outcome the client never learned: the
   * step must then accept any outcome the operation could have had.
   */
  step(s: S, input: I, output: O | typeof UNKNOWN): S | undefined;
  /** A string that is equal for equal states (default: JSON.stringify). Used by the visited-state cache. */
  hash?(s: S): string;
  /** Splits a history into independent sub-histories (e.g. by key): P-compositionality. */
  partition?(ops: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** Renders an operation for explanations. */
  describe?(input: I, output: O | typeof UNKNOWN): string;
}

/** The output of an operation whose completion was never seen (timed out, or its process crashed). */
export const UNKNOWN: unique symbol = Symbol('unknown outcome');

/**
 * One operation of a history: invoked at `call`, completed at `return` with `output`. An operation with an unknown
 * outcome has `output: UNKNOWN` and `return: Infinity`: it may take effect at any time after its call, or never.
 */
export interface Operation<I, O> {
  clientId: number;
  input: I;
  call: number;
  output: O | typeof UNKNOWN;
  return: number;
}
