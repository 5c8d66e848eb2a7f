/** A broken safety property, with the seed that reproduces it and the last events before it. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly property: string,
    detail: string,
    readonly seed: number,
    readonly traceTail: readonly string[],
  ) {
    super(`${property} violated (seed ${seed}): ${detail}\nlast events:\n  ${traceTail.join('\n  ')}`);
  }
}

/** FNV-1a over 32-bit words, for trace hashes and state hashes. */
export function fnv(h: number, v: number): number {
  let x = h ^ (v & 0xffff);
  x = Math.imul(x, 0x01000193);
  x ^= v >>> 16;
  x = Math.imul(x, 0x01000193);
  return x >>> 0;
}

/** Folds bytes into a hash. */
export function fnvBytes(h: number, b: Uint8Array): number {
  let x = h;
  for (let i = 0; i < b.byteLength; i++) x = Math.imul(x ^ b[i]!, 0x01000193) >>> 0;
  return x;
}

/**
 * The global facts the checks compare every node against: the leader of each term (Election Safety), and the
 * state hash after each applied index (State Machine Safety: the same entries, in the same order, everywhere).
 */
export class SafetyLedger {
  /** term -> the node that became leader in it. */
  readonly leaders = new Map<number, number>();
  /** index -> state hash after applying the entries up to it, as first seen applied by any node. */
  readonly appliedHash = new Map<number, number>();
  /** index -> term of the entry applied there. */
  readonly appliedTerm = new Map<number, number>();

  constructor(
    private readonly seed: number,
    private readonly tail: () => string[],
  ) {}

  violation(property: string, detail: string): InvariantViolation {
    return new InvariantViolation(property, detail, this.seed, this.tail());
  }

  /** Election Safety: at most one leader per term (§5.2). */
  recordLeader(term: number, id: number): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) {
      throw this.violation('Election Safety', `nodes ${prev} and ${id} were both leader in term ${term}`);
    }
    this.leaders.set(term, id);
  }

  /** State Machine Safety: every node's state after index i is the same (§5.4.3). */
  recordApplied(node: number, index: number, term: number | undefined, hash: number): void {
    const seen = this.appliedHash.get(index);
    if (seen === undefined) {
      this.appliedHash.set(index, hash);
      if (term !== undefined) this.appliedTerm.set(index, term);
      return;
    }
    if (seen !== hash) {
      throw this.violation(
        'State Machine Safety',
        `node ${node} applied a different history at index ${index} (term ${term ?? '?'} vs ${this.appliedTerm.get(index) ?? '?'})`,
      );
    }
  }
}
